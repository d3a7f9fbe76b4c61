//! Helpers shared by the integration tests and the fuzz targets.
#![allow(dead_code)]
pub mod fuzz;
pub mod model;
