//! The losses and the whole backward path against PyTorch (numbers from
//! `tests/fixtures/expected.json`, keys `losses_output_vs_content_and_style` and
//! `train_step_72x52`; `train_grad_72x52.safetensors` holds PyTorch's d loss / d output).

mod common;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use common::{abs_sum, assert_rel, expected, fixture, image, number, sum, vgg};
use faststyle_net::TransformerNet;
use faststyle_train::{total_variation, LossConfig, PerceptualLoss, Tap};

/// The fixture's transformer with its weights as trainable `Var`s, so gradients reach them.
fn trainable_transformer() -> (TransformerNet, VarMap) {
    let mut varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let net = TransformerNet::new(vb).unwrap();
    varmap.load(fixture("transformer_net.safetensors")).unwrap();
    (net, varmap)
}

fn default_loss() -> PerceptualLoss {
    let style = image("style_96x80.png");
    PerceptualLoss::new(vgg().clone(), LossConfig::default(), &style).unwrap()
}

#[test]
fn content_style_and_tv_of_the_clamped_output_match_pytorch() {
    let want = &expected()["losses_output_vs_content_and_style"];
    let content = image("content_72x52.png");
    let output =
        candle_core::safetensors::load(fixture("transformer_out_72x52.safetensors"), &Device::Cpu)
            .unwrap()
            .remove("output")
            .unwrap()
            .clamp(0f32, 255f32)
            .unwrap();
    let loss = default_loss();
    let target = loss.content_target(&content).unwrap();
    let values = loss.compute(&output, &target).unwrap().values().unwrap();
    assert_rel("content", values.content, number(&want["content"]), 1e-4);
    assert_rel("style", values.style, number(&want["style"]), 1e-4);
    assert_rel("tv", values.tv, number(&want["tv"]), 1e-5);
    let total = 1e5 * values.content + 1e10 * values.style;
    assert_rel("weighted total", values.total, total, 1e-6);
}

#[test]
fn total_variation_sums_absolute_neighbour_differences() {
    // [[0, 1, 3], [2, 2, 2]]: |2-0| + |2-1| + |2-3| down, |1-0| + |3-1| + 0 + 0 across.
    let xs = Tensor::new(&[[[[0f32, 1., 3.], [2., 2., 2.]]]], &Device::Cpu).unwrap();
    let tv: f32 = total_variation(&xs).unwrap().to_scalar().unwrap();
    assert_eq!(tv, 7.0);
}

#[test]
fn backward_through_vgg_and_transformer_matches_pytorch() {
    let want = &expected()["train_step_72x52"];
    let (net, varmap) = trainable_transformer();
    let content = image("content_72x52.png");
    let loss = default_loss();
    let target = loss.content_target(&content).unwrap();
    let output = net.forward(&content).unwrap();
    let terms = loss.compute(&output, &target).unwrap();
    let total = terms.values().unwrap().total;
    assert_rel("training loss", total, number(&want["loss"]), 1e-4);

    // candle keeps gradients of leaves only: d loss / d output comes from a second pass with the
    // output as a leaf; the parameter gradients below come from the real, end-to-end pass.
    let output_leaf = candle_core::Var::from_tensor(&output.detach()).unwrap();
    let leaf_terms = loss.compute(output_leaf.as_tensor(), &target).unwrap();
    let leaf_grads = leaf_terms.total.backward().unwrap();
    let d_output = leaf_grads
        .get(output_leaf.as_tensor())
        .expect("gradient of the output");
    let grads = terms.total.backward().unwrap();
    let torch =
        candle_core::safetensors::load(fixture("train_grad_72x52.safetensors"), &Device::Cpu)
            .unwrap()
            .remove("d_loss_d_output")
            .unwrap();
    assert_eq!(d_output.dims(), torch.dims());
    // A 2x2 max-pool sends its gradient to one pixel of each window; where the two largest
    // values of a window are within rounding of each other, which one wins depends on the
    // order of float additions in the convolutions before it, so PyTorch and we may pick
    // different pixels. Everywhere else the gradients must agree to 1e-3 of the largest value;
    // near such ties (few, found from our own activations) they are not compared.
    let max_ref: f32 = torch.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
    let err: Vec<f32> = (d_output - &torch)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let taps = vgg().forward(&output).unwrap();
    let near_ties = near_tied_pool_windows(taps.get(Tap::Relu1_2));
    let (h, w) = (52, 72);
    // Excluding more than 1% of the windows would hollow the comparison out.
    assert!(
        near_ties.len() * 100 <= (h / 2) * (w / 2),
        "{} near-tied max-pool windows: too many to exclude",
        near_ties.len()
    );
    let near_a_tie = |r: usize, x: usize| {
        // Two 3x3 convolutions (conv1_1, conv1_2) spread a window's gradient by 2 pixels.
        near_ties.iter().any(|&(wr, wx)| {
            r + 2 >= 2 * wr && r <= 2 * wr + 3 && x + 2 >= 2 * wx && x <= 2 * wx + 3
        })
    };
    let mut max_err = 0f32;
    for (i, e) in err.iter().enumerate() {
        let (r, x) = ((i / w) % h, i % w);
        if !near_a_tie(r, x) {
            max_err = max_err.max(*e);
        }
    }
    eprintln!(
        "d loss / d output: largest difference {max_err:e} away from {} near-tied pool windows, \
         largest value {max_ref:e}",
        near_ties.len()
    );
    assert!(
        max_err <= 1e-3 * max_ref,
        "d loss / d output differs from PyTorch's by up to {max_err} (largest value {max_ref})"
    );
    assert_rel(
        "|d loss / d output| sum",
        abs_sum(d_output),
        number(&want["d_loss_d_output_abs_sum"]),
        1e-3,
    );

    // res5.in2's bias shifts each channel of the residual output by a constant; upsampling,
    // reflection padding and deconv1 keep it constant per channel, and in4 subtracts every
    // channel's mean: the loss does not depend on it and its exact gradient is zero. What both
    // frameworks compute there is round-off (PyTorch: |.| sums to 0.027, against 2.5e6 for
    // d loss / d output), so it is checked to be negligible rather than equal.
    let noise_level = 1e-7 * number(&want["d_loss_d_output_abs_sum"]);
    let vars = varmap.data().lock().unwrap();
    for (name, want) in want["param_grads"].as_object().unwrap() {
        let var = vars
            .get(name)
            .unwrap_or_else(|| panic!("no parameter {name}"));
        let grad = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        if ZERO_BY_CONSTRUCTION.contains(&name.as_str()) {
            assert!(
                number(&want["abs_sum"]) <= noise_level,
                "fixture: {name} is not zero"
            );
            let a = abs_sum(grad);
            assert!(
                a <= noise_level,
                "{name}: gradient |.| sums to {a}, should be ~0"
            );
            continue;
        }
        // The near-tied pool windows above move d loss / d output in a few pixels, and a
        // signed sum cancels: it is held to 1e-3 of the sum of magnitudes.
        let (ours, theirs) = (sum(grad), number(&want["sum"]));
        assert!(
            (ours - theirs).abs() <= 1e-3 * number(&want["abs_sum"]),
            "{name} gradient sum: {ours} vs PyTorch's {theirs}"
        );
        assert_rel(
            &format!("{name} gradient |.| sum"),
            abs_sum(grad),
            number(&want["abs_sum"]),
            1e-3,
        );
    }
}

/// Parameters the loss does not depend on (see the comment in the test).
const ZERO_BY_CONSTRUCTION: [&str; 1] = ["res5.in2.bias"];

/// `(row, column)` of the 2x2 pool windows of `relu` `(1, c, h, w)`, in any channel, whose two
/// largest values differ by less than float32 rounding of that channel's convolution could
/// move them (1e-6 of the channel's largest value): the windows whose argmax rounding decides.
fn near_tied_pool_windows(relu: &Tensor) -> Vec<(usize, usize)> {
    let (_, c, h, w) = relu.dims4().unwrap();
    let v: Vec<f32> = relu.flatten_all().unwrap().to_vec1().unwrap();
    let mut windows = Vec::new();
    for ch in 0..c {
        let plane = &v[ch * h * w..(ch + 1) * h * w];
        let scale = plane.iter().cloned().fold(0f32, f32::max);
        for wr in 0..h / 2 {
            for wx in 0..w / 2 {
                let at = |dr: usize, dx: usize| plane[(2 * wr + dr) * w + 2 * wx + dx];
                let mut four = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                four.sort_by(|a, b| b.total_cmp(a));
                let (top, second) = (four[0], four[1]);
                if top > 0.0 && top - second <= 1e-6 * scale && !windows.contains(&(wr, wx)) {
                    windows.push((wr, wx));
                }
            }
        }
    }
    windows
}
