//! The trainer with the real perceptual loss (VGG16 fetched and cached on first use, as in the
//! parity tests): on two tiny photos the total loss falls within ten steps.

mod common;

use std::sync::Arc;

use candle_core::Device;
use faststyle_train::data::Skipped;
use faststyle_train::objective::perceptual_trainer;
use faststyle_train::TrainOptions;

#[test]
fn perceptual_loss_falls_within_ten_steps() {
    let dir = std::env::temp_dir().join(format!("faststyle-perceptual-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Two 16x16 photos and batches of 2: every step sees both (flipped at random), so the
    // loss changes because the network learns, not because the photos change.
    for i in 0..2u32 {
        let img = image::RgbImage::from_fn(16, 16, |x, y| {
            image::Rgb([
                (x * 16) as u8,
                (y * 16 + i * 60) as u8,
                ((x ^ y) * 16) as u8,
            ])
        });
        img.save(dir.join(format!("p{i}.png"))).unwrap();
    }
    let options = TrainOptions {
        style_image: common::fixture("style_96x80.png"),
        data: dir.clone(),
        image_size: 16,
        batch_size: 2,
        steps: 10,
        lr: 1e-2,
        ..TrainOptions::default()
    };
    let mut trainer = perceptual_trainer(
        options,
        common::vgg().clone(),
        &Device::Cpu,
        Arc::new(|s: &Skipped| panic!("skipped {}", s.path.display())),
        None,
    )
    .unwrap();
    let totals: Vec<f64> = (0..10)
        .map(|_| {
            let report = trainer.step().unwrap();
            let l = report.losses;
            // The weighted terms add up to the total.
            assert!((l.content + l.style + l.tv - l.total).abs() <= 1e-4 * l.total);
            l.total
        })
        .collect();
    // Means of three steps, as the random flips make single steps noisy.
    let first = totals[..3].iter().sum::<f64>() / 3.0;
    let last = totals[7..].iter().sum::<f64>() / 3.0;
    assert!(last < 0.85 * first, "{totals:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
