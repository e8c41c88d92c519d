//! The hyperplane worker: datasets, the ndarray trainer, linear SVM solvers and
//! the decision-boundary metrics that compare a network's last layer with them.

pub mod client;
pub mod boundary;
pub mod data;
pub mod nn;
pub mod rng;
pub mod slots;
/// Metric rows are shared with the coordinator, so the type lives in the contract crate.
pub mod row {
    pub use hyperplane_proto::row::{Row, Value};
}
pub mod svm;
pub mod train;
pub mod trial;
