//! Makes the photo of the load benchmark (`scripts/load_bench.sh`): any image resized to an
//! exact size and written as JPEG, so the benchmark posts a realistic camera-like file.
//!
//! `cargo run --release -p faststyle-serve --example bench_photo -- IN OUT WIDTH HEIGHT`

use image::imageops::FilterType;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, width, height] = args.as_slice() else {
        return Err("usage: bench_photo IN OUT WIDTH HEIGHT".into());
    };
    let (w, h): (u32, u32) = (width.parse()?, height.parse()?);
    let img = image::open(input)?.resize_to_fill(w, h, FilterType::CatmullRom);
    let mut out = std::fs::File::create(output)?;
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img.into_rgb8())?;
    Ok(())
}
