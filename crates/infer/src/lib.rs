//! placeholder

pub mod catalog;
