//! What the engine needs from a sweep: a lazily indexed list of trials.
//!
//! The engine never materialises a sweep's trials; it asks for trial `i` when it leases
//! it. Keeping this a trait lets the scheduler be tested with synthetic sweeps of any
//! size and keeps the engine independent of the sweep file format.

use std::path::Path;
use std::sync::Arc;

use hyperplane_proto::row::Row;

use crate::error::{CoordinatorError, Result};
use crate::sweep::Sweep;

/// One trial of a sweep, as the engine stores, leases and exports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTrial {
    /// Position in the sweep's deterministic grid order.
    pub index: u64,
    /// Stable hash of the trial's normalised parameters; survives grid extensions.
    pub trial_id: String,
    /// The resolved trial specification as JSON, exactly what the worker runs.
    pub spec_json: String,
    /// The trial's parameters flattened to output columns (one Parquet column each).
    pub params: Row,
}

/// A parsed, validated sweep.
pub trait TrialSource: Send + Sync {
    /// The sweep's name from its file.
    fn name(&self) -> &str;
    /// Hash of the whole normalised spec: equal hashes mean an identical resubmission.
    fn spec_hash(&self) -> &str;
    /// Hash of everything except the grid's value lists: equal means "same sweep, grid may have grown".
    fn base_hash(&self) -> &str;
    /// The sweep file's text, kept so a restarted coordinator can rebuild the sweep.
    fn source(&self) -> &str;
    /// How many attempts a trial gets before it is `failed`.
    fn max_attempts(&self) -> u32;
    /// Number of trials in the grid.
    fn len(&self) -> u64;
    /// A grid without trials (refused at submission).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Trial `index` (< `len()`).
    fn trial(&self, index: u64) -> Result<PlannedTrial>;
}

/// Turns a sweep file's text (and its origin, for messages) into a [`TrialSource`].
pub type SweepParser = Arc<dyn Fn(&str, &str) -> Result<Arc<dyn TrialSource>> + Send + Sync>;

impl TrialSource for Sweep {
    fn name(&self) -> &str {
        &self.name
    }
    fn spec_hash(&self) -> &str {
        &self.spec_hash
    }
    fn base_hash(&self) -> &str {
        &self.base_hash
    }
    fn source(&self) -> &str {
        &self.source
    }
    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
    fn len(&self) -> u64 {
        Sweep::len(self)
    }
    fn trial(&self, index: u64) -> Result<PlannedTrial> {
        let plan = Sweep::trial(self, index).map_err(|e| CoordinatorError::InvalidSweep(e.to_string()))?;
        let spec_json = serde_json::to_string(&plan.spec)
            .map_err(|e| CoordinatorError::Corrupt(format!("trial spec does not serialise: {e}")))?;
        Ok(PlannedTrial { index: plan.index, trial_id: plan.trial_id, spec_json, params: plan.params })
    }
}

/// The production parser: sweep files as `hyperplane check` reads them.
pub fn sweep_file_parser() -> SweepParser {
    Arc::new(|text: &str, origin: &str| {
        let sweep = Sweep::from_toml(text, Path::new(origin)).map_err(|e| CoordinatorError::InvalidSweep(e.to_string()))?;
        if sweep.is_empty() {
            return Err(CoordinatorError::InvalidSweep(format!("{origin}: the grid has no trials")));
        }
        Ok(Arc::new(sweep) as Arc<dyn TrialSource>)
    })
}

/// A sweep of `len` trivial trials with no sweep file behind it: the scheduler's tests and
/// the engine benchmark use it to measure the engine alone, without grid expansion costs.
/// Trial `i` has id `synthetic-{i}`, so a longer synthetic sweep of the same name is a
/// grid extension of a shorter one.
#[derive(Debug, Clone)]
pub struct SyntheticSweep {
    /// Sweep name.
    pub name: String,
    /// Number of trials.
    pub len: u64,
    /// Attempts per trial.
    pub max_attempts: u32,
    /// Stands in for the sweep text.
    pub source: String,
    /// Changes with the length (a grown grid is a new spec).
    spec_hash: String,
    /// Does not change with the length (a grown grid is the same sweep).
    base_hash: String,
}

impl SyntheticSweep {
    pub fn new(name: &str, len: u64, max_attempts: u32) -> Self {
        SyntheticSweep {
            name: name.to_string(),
            len,
            max_attempts,
            source: format!("# synthetic sweep {name} of {len} trials\n"),
            spec_hash: format!("spec-{name}-{len}-{max_attempts}"),
            base_hash: format!("base-{name}-{max_attempts}"),
        }
    }
}

impl TrialSource for SyntheticSweep {
    fn name(&self) -> &str {
        &self.name
    }
    fn spec_hash(&self) -> &str {
        &self.spec_hash
    }
    fn base_hash(&self) -> &str {
        &self.base_hash
    }
    fn source(&self) -> &str {
        &self.source
    }
    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn trial(&self, index: u64) -> Result<PlannedTrial> {
        Ok(PlannedTrial {
            index,
            trial_id: format!("synthetic-{index}"),
            spec_json: format!("{{\"synthetic_index\":{index}}}"),
            params: {
                let mut row = Row::new();
                row.push("synthetic_index", index as i64);
                row
            },
        })
    }
}
