//! Training for faststyle: the VGG16 loss network, the losses, the trainer and the slow method.

pub mod adam;
pub mod data;
pub mod options;
pub mod photo;
pub mod rng;
pub mod state;
pub mod train_error;
pub mod trainer;

pub use options::TrainOptions;
pub use train_error::{TrainError, TrainResult};
pub use trainer::{Losses, Objective, StepReport, Trainer};
