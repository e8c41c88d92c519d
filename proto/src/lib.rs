//! The trial specification shared by coordinator and worker.
