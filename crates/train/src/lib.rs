//! placeholder

pub mod gatys;
