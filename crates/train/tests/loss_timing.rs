//! Time of one loss evaluation and its backward pass at the training size (batch 4, 256x256),
//! on request only: `cargo test -p faststyle-train --release --test loss_timing -- --ignored
//! --nocapture`.

mod common;

use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use common::{image, vgg};
use faststyle_train::{LossConfig, PerceptualLoss};

#[test]
#[ignore]
fn loss_forward_and_backward_at_batch_4_256x256() {
    let loss = PerceptualLoss::new(
        vgg().clone(),
        LossConfig::default(),
        &image("style_96x80.png"),
    )
    .unwrap();
    let content = (Tensor::rand(0f32, 255f32, (4, 3, 256, 256), &Device::Cpu).unwrap()).detach();
    let output = Var::from_tensor(&(&content + 1.0).unwrap()).unwrap();
    for round in 0..3 {
        let start = Instant::now();
        let target = loss.content_target(&content).unwrap();
        let after_target = start.elapsed();
        let terms = loss.compute(output.as_tensor(), &target).unwrap();
        let after_forward = start.elapsed();
        let grads = terms.total.backward().unwrap();
        assert!(grads.get(output.as_tensor()).is_some());
        let total = start.elapsed();
        eprintln!(
            "round {round}: content target {:.2}s, loss forward {:.2}s, backward {:.2}s, total {:.2}s",
            after_target.as_secs_f64(),
            (after_forward - after_target).as_secs_f64(),
            (total - after_forward).as_secs_f64(),
            total.as_secs_f64()
        );
    }
}
