//! The hyperplane worker: datasets, the ndarray trainer, linear SVM solvers and
//! the decision-boundary metrics that compare a network's last layer with them.

pub mod rng;
pub mod row;
pub mod svm;
pub mod boundary;
