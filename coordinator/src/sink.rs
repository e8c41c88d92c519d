//! The Parquet sink: finished trials leave SQLite as `OUT/<sweep>/trials/part-NNNNN.parquet`
//! (one row per finished trial) and `OUT/<sweep>/epochs/part-NNNNN.parquet` (the completed
//! attempts' metric rows).
//!
//! Exactly-once files: a part is written to a hidden temporary file, fsynced and renamed
//! (`frame::write_parquet_atomic`), and only then recorded in SQLite together with the
//! trials it holds. A crash between rename and record leaves a part numbered above the last
//! recorded one; [`Sink::start`] deletes such orphans (and temporary files) before writing,
//! so the same trials are written again under the same number and never twice.
//!
//! Stable schemas: the column types of each sweep are recorded in the `columns` table the
//! first time a column appears, and every later part carries every known column with the
//! recorded type (nulls where a trial has no value), so readers can scan all parts together.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hyperplane_proto::row::{Row, Value};
use hyperplane_proto::wire::decode_rows;
use polars::prelude::*;
use rusqlite::Connection;
use tracing::{debug, info, warn};

use crate::engine::{Engine, SweepInfo};
use crate::error::{CoordinatorError, Result};
use crate::frame::write_parquet_atomic;
use crate::scheduler::PartRecord;
use crate::state::{self, FinishedTrial};

/// Most trials in one part (bounds the sink's memory on million-trial sweeps).
const TRIALS_PER_PART: usize = 5000;

/// Settings of the sink thread.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Where the database lives (the sink reads through its own connection).
    pub state_dir: PathBuf,
    /// The root of the Parquet output.
    pub out_dir: PathBuf,
    /// How often finished trials are written out.
    pub flush_interval: Duration,
}

/// The output column types; a column keeps its type for the whole sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F64,
    I64,
    Bool,
    Str,
}

impl Dtype {
    fn of(value: &Value) -> Dtype {
        match value {
            Value::F64(_) => Dtype::F64,
            Value::I64(_) => Dtype::I64,
            Value::Bool(_) => Dtype::Bool,
            Value::Str(_) => Dtype::Str,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Dtype::F64 => "f64",
            Dtype::I64 => "i64",
            Dtype::Bool => "bool",
            Dtype::Str => "str",
        }
    }
    fn polars(self) -> DataType {
        match self {
            Dtype::F64 => DataType::Float64,
            Dtype::I64 => DataType::Int64,
            Dtype::Bool => DataType::Boolean,
            Dtype::Str => DataType::String,
        }
    }
    fn parse(name: &str) -> Result<Dtype> {
        Ok(match name {
            "f64" => Dtype::F64,
            "i64" => Dtype::I64,
            "bool" => Dtype::Bool,
            "str" => Dtype::Str,
            other => return Err(CoordinatorError::Corrupt(format!("unknown column type `{other}` in the columns table"))),
        })
    }
}

/// The known columns of one output kind of one sweep.
#[derive(Debug, Clone, Default)]
struct Schema {
    /// Columns in output order.
    columns: Vec<(String, Dtype)>,
    /// Name → position in `columns`.
    index: HashMap<String, usize>,
    /// How many of `columns` are already recorded in SQLite.
    recorded: usize,
}

impl Schema {
    fn load(conn: &Connection, sweep: &str, kind: &str) -> Result<Schema> {
        let mut schema = Schema::default();
        for (name, dtype) in state::load_columns(conn, sweep, kind)? {
            schema.add(name, Dtype::parse(&dtype)?);
        }
        schema.recorded = schema.columns.len();
        Ok(schema)
    }

    fn add(&mut self, name: String, dtype: Dtype) -> usize {
        self.index.insert(name.clone(), self.columns.len());
        self.columns.push((name, dtype));
        self.columns.len() - 1
    }

    /// The column a cell goes to. A cell whose type differs from its column's recorded type
    /// (other than an integer into a float column) goes to a sibling column
    /// `NAME__TYPE`, so no value is lost and no column changes type between parts.
    fn column_for(&mut self, name: &str, value: &Value) -> usize {
        let dtype = Dtype::of(value);
        match self.index.get(name) {
            None => self.add(name.to_string(), dtype),
            Some(&i) if self.columns[i].1 == dtype || (self.columns[i].1 == Dtype::F64 && dtype == Dtype::I64) => i,
            Some(_) => {
                let sibling = format!("{name}__{}", dtype.name());
                match self.index.get(&sibling) {
                    Some(&i) => i,
                    None => self.add(sibling, dtype),
                }
            }
        }
    }

    /// Columns added since the last recorded part, for the `columns` table.
    fn new_columns(&self, kind: &str) -> Vec<(String, String, String, u64)> {
        self.columns[self.recorded..]
            .iter()
            .enumerate()
            .map(|(k, (name, dtype))| {
                (kind.to_string(), name.clone(), dtype.name().to_string(), (self.recorded + k) as u64)
            })
            .collect()
    }
}

/// Column-major buffers for one part, filled row by row.
struct FrameBuilder {
    /// One vector of cells per schema column, each as long as the rows pushed so far.
    cells: Vec<Vec<Option<Value>>>,
    rows: usize,
}

impl FrameBuilder {
    fn new() -> Self {
        FrameBuilder { cells: Vec::new(), rows: 0 }
    }

    fn push(&mut self, schema: &mut Schema, cells: &[(String, Value)]) {
        for (name, value) in cells {
            let column = schema.column_for(name, value);
            while self.cells.len() <= column {
                self.cells.push(vec![None; self.rows]);
            }
            self.cells[column].push(Some(value.clone()));
        }
        self.rows += 1;
        for column in &mut self.cells {
            column.resize(self.rows, None);
        }
    }

    fn finish(mut self, schema: &Schema) -> Result<DataFrame> {
        while self.cells.len() < schema.columns.len() {
            self.cells.push(vec![None; self.rows]);
        }
        let mut columns = Vec::with_capacity(schema.columns.len());
        for ((name, dtype), cells) in schema.columns.iter().zip(self.cells) {
            let name: PlSmallStr = name.as_str().into();
            let series = match dtype {
                Dtype::F64 => Series::new(
                    name,
                    cells
                        .into_iter()
                        .map(|c| match c {
                            Some(Value::F64(x)) => Some(x),
                            Some(Value::I64(x)) => Some(x as f64),
                            _ => None,
                        })
                        .collect::<Vec<Option<f64>>>(),
                ),
                Dtype::I64 => Series::new(
                    name,
                    cells
                        .into_iter()
                        .map(|c| match c {
                            Some(Value::I64(x)) => Some(x),
                            _ => None,
                        })
                        .collect::<Vec<Option<i64>>>(),
                ),
                Dtype::Bool => Series::new(
                    name,
                    cells
                        .into_iter()
                        .map(|c| match c {
                            Some(Value::Bool(x)) => Some(x),
                            _ => None,
                        })
                        .collect::<Vec<Option<bool>>>(),
                ),
                Dtype::Str => Series::new(
                    name,
                    cells
                        .into_iter()
                        .map(|c| match c {
                            Some(Value::Str(x)) => Some(x),
                            _ => None,
                        })
                        .collect::<Vec<Option<String>>>(),
                ),
            };
            columns.push(Column::from(series));
        }
        DataFrame::new(self.rows, columns).map_err(|e| CoordinatorError::Parquet(e.to_string()))
    }
}

/// Path of part `part` of `kind` (`trials` or `epochs`) of a sweep.
pub fn part_path(out_dir: &Path, sweep: &str, kind: &str, part: u64) -> PathBuf {
    out_dir.join(sweep).join(kind).join(format!("part-{part:05}.parquet"))
}

/// Parses `part-NNNNN.parquet`.
fn part_number(file_name: &str) -> Option<u64> {
    file_name.strip_prefix("part-")?.strip_suffix(".parquet")?.parse().ok()
}

/// Deletes temporary files and parts above the last recorded one (left by a crash between
/// rename and record). Returns how many files were removed.
fn remove_orphans(out_dir: &Path, sweep: &str, last_recorded: u64) -> Result<usize> {
    let mut removed = 0;
    for kind in ["trials", "epochs"] {
        let dir = out_dir.join(sweep).join(kind);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let orphan = name.contains(".tmp-") || part_number(&name).is_some_and(|n| n > last_recorded);
            if orphan {
                std::fs::remove_file(entry.path())
                    .map_err(|e| CoordinatorError::io(format!("removing orphan {}", entry.path().display()), e))?;
                info!(file = %entry.path().display(), "removed an unrecorded part file");
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Column names of a Parquet file, read from its footer only.
fn file_columns(path: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).map_err(|e| CoordinatorError::io(format!("opening {}", path.display()), e))?;
    let schema = ParquetReader::new(file).schema().map_err(|e| CoordinatorError::Parquet(format!("{}: {e}", path.display())))?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

/// Rewrites the parts of `kind` numbered `1..=up_to` whose columns differ from `columns`,
/// so that every part of a sweep has exactly the same columns in the same order: readers
/// that take the schema from one file (`polars.scan_parquet`, `pyarrow.dataset`) then see
/// every column. Missing columns are added as nulls of the recorded type; a column not in
/// `columns` can only be an all-null leftover of a rewrite interrupted by a crash, so
/// dropping it loses nothing. Each rewrite is atomic. Returns how many files were rewritten.
fn normalise_parts(
    out_dir: &Path,
    sweep: &SweepInfo,
    kind: &str,
    columns: &[(String, Dtype)],
    up_to: u64,
) -> Result<usize> {
    let wanted: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let mut rewritten = 0;
    for part in 1..=up_to {
        let path = part_path(out_dir, &sweep.name, kind, part);
        if !path.exists() {
            continue;
        }
        if file_columns(&path)? == wanted {
            continue;
        }
        let mut df = crate::frame::read_parquet(&path).map_err(|e| CoordinatorError::Parquet(e.to_string()))?;
        let height = df.height();
        for (name, dtype) in columns {
            if df.column(name).is_err() {
                df.with_column(Column::full_null(name.as_str().into(), height, &dtype.polars()))
                    .map_err(|e| CoordinatorError::Parquet(e.to_string()))?;
            }
        }
        let mut df = df.select(wanted.iter().copied()).map_err(|e| CoordinatorError::Parquet(e.to_string()))?;
        write_parquet_atomic(&path, &mut df, &part_metadata(sweep, kind, part))
            .map_err(|e| CoordinatorError::Parquet(e.to_string()))?;
        rewritten += 1;
    }
    if rewritten > 0 {
        info!(sweep = %sweep.name, kind, rewritten, "earlier parts rewritten with the sweep's new columns");
    }
    Ok(rewritten)
}

/// The key-value metadata of every part: the sweep, its spec hash and its spec text.
fn part_metadata(sweep: &SweepInfo, kind: &str, part: u64) -> Vec<(String, String)> {
    vec![
        ("hyperplane.sweep".to_string(), sweep.name.clone()),
        ("hyperplane.spec_hash".to_string(), sweep.spec_hash.clone()),
        ("hyperplane.spec_toml".to_string(), sweep.source.clone()),
        ("hyperplane.kind".to_string(), kind.to_string()),
        ("hyperplane.part".to_string(), part.to_string()),
    ]
}

/// Writes `OUT/<sweep>/sweep.toml` (atomically) when its content differs.
fn write_sweep_toml(out_dir: &Path, sweep: &SweepInfo) -> Result<()> {
    let dir = out_dir.join(&sweep.name);
    let path = dir.join("sweep.toml");
    let content = format!("# hyperplane sweep `{}`, spec hash {}\n{}", sweep.name, sweep.spec_hash, sweep.source);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|e| CoordinatorError::io(format!("creating {}", dir.display()), e))?;
    let tmp = dir.join(".sweep.toml.tmp");
    let io = |e| CoordinatorError::io(format!("writing {}", path.display()), e);
    std::fs::write(&tmp, content.as_bytes()).map_err(io)?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(())
}

/// Per-sweep state the sink keeps between flushes.
#[derive(Default)]
struct SweepSink {
    /// Orphans removed once per sink lifetime, before the first write.
    cleaned: bool,
    trials: Option<Schema>,
    epochs: Option<Schema>,
}

/// The trial row: bookkeeping columns, the trial's parameters, then its final metrics.
fn trial_cells(trial: &FinishedTrial) -> Result<Vec<(String, Value)>> {
    let mut cells: Vec<(String, Value)> = vec![
        ("trial_id".into(), Value::Str(trial.trial_id.clone())),
        ("attempt".into(), Value::I64(trial.attempt as i64)),
        ("state".into(), Value::Str(trial.state.clone())),
    ];
    if let Some(outcome) = &trial.outcome {
        cells.push(("outcome".into(), Value::Str(outcome.clone())));
    }
    if let Some(error) = &trial.last_error {
        cells.push(("error".into(), Value::Str(error.clone())));
    }
    let params = decode_rows(&trial.params).map_err(CoordinatorError::Corrupt)?;
    for row in &params {
        cells.extend(row.cells.iter().cloned());
    }
    if let Some(worker) = &trial.worker {
        cells.push(("worker".into(), Value::Str(worker.clone())));
    }
    if let Some(ms) = trial.started_ms {
        cells.push(("started_at_ms".into(), Value::I64(ms)));
    }
    if let Some(ms) = trial.finished_ms {
        cells.push(("finished_at_ms".into(), Value::I64(ms)));
    }
    if let Some(summary) = trial.summary.as_deref().filter(|s| !s.is_empty()) {
        let summary: Row = match decode_rows(summary).map_err(CoordinatorError::Corrupt)?.pop() {
            Some(row) => row,
            None => Row::new(),
        };
        for (name, value) in summary.cells {
            // A final metric named like a parameter keeps both, the metric prefixed.
            let name = if cells.iter().any(|(n, _)| *n == name) { format!("final_{name}") } else { name };
            cells.push((name, value));
        }
    }
    Ok(cells)
}

/// Writes every finished-but-unwritten trial of every sweep. Returns the parts written.
fn flush(engine: &Engine, conn: &Connection, out_dir: &Path, sinks: &mut HashMap<String, SweepSink>) -> Result<u64> {
    let mut written = 0;
    for sweep in engine.sweeps_blocking()? {
        let sink = sinks.entry(sweep.name.clone()).or_default();
        if !sink.cleaned {
            let last = state::last_part(conn, &sweep.name)?;
            remove_orphans(out_dir, &sweep.name, last)?;
            for kind in ["trials", "epochs"] {
                let schema = Schema::load(conn, &sweep.name, kind)?;
                if !schema.columns.is_empty() {
                    normalise_parts(out_dir, &sweep, kind, &schema.columns, last)?;
                }
            }
            sink.cleaned = true;
        }
        loop {
            let trials = state::load_unexported(conn, &sweep.name, TRIALS_PER_PART)?;
            if trials.is_empty() {
                break;
            }
            write_sweep_toml(out_dir, &sweep)?;
            match write_part(engine, conn, out_dir, &sweep, sink, &trials) {
                Ok(()) => written += 1,
                Err(e) => {
                    // The schemas may hold columns of the part that was not recorded.
                    sink.trials = None;
                    sink.epochs = None;
                    sink.cleaned = false;
                    return Err(e);
                }
            }
        }
    }
    Ok(written)
}

fn write_part(
    engine: &Engine,
    conn: &Connection,
    out_dir: &Path,
    sweep: &SweepInfo,
    sink: &mut SweepSink,
    trials: &[FinishedTrial],
) -> Result<()> {
    let part = state::last_part(conn, &sweep.name)? + 1;
    if sink.trials.is_none() {
        sink.trials = Some(Schema::load(conn, &sweep.name, "trials")?);
    }
    if sink.epochs.is_none() {
        sink.epochs = Some(Schema::load(conn, &sweep.name, "epochs")?);
    }
    let (trial_schema, epoch_schema) = (sink.trials.as_mut().unwrap(), sink.epochs.as_mut().unwrap());
    let mut trial_frame = FrameBuilder::new();
    let mut epoch_frame = FrameBuilder::new();
    for trial in trials {
        trial_frame.push(trial_schema, &trial_cells(trial)?);
        let Some(lease) = trial.final_lease.as_deref().filter(|_| trial.state == "completed") else { continue };
        for batch in state::load_batches(conn, lease)? {
            for row in decode_rows(&batch).map_err(CoordinatorError::Corrupt)? {
                let mut cells = vec![
                    ("trial_id".to_string(), Value::Str(trial.trial_id.clone())),
                    ("attempt".to_string(), Value::I64(trial.attempt as i64)),
                ];
                cells.extend(row.cells);
                epoch_frame.push(epoch_schema, &cells);
            }
        }
    }
    let trials_rows = trial_frame.rows as u64;
    let epochs_rows = epoch_frame.rows as u64;
    let parquet = |e: crate::frame::FrameError| CoordinatorError::Parquet(e.to_string());
    if epochs_rows > 0 {
        let mut df = epoch_frame.finish(epoch_schema)?;
        write_parquet_atomic(&part_path(out_dir, &sweep.name, "epochs", part), &mut df, &part_metadata(sweep, "epochs", part))
            .map_err(parquet)?;
    }
    let mut df = trial_frame.finish(trial_schema)?;
    write_parquet_atomic(&part_path(out_dir, &sweep.name, "trials", part), &mut df, &part_metadata(sweep, "trials", part))
        .map_err(parquet)?;
    // New columns: bring the earlier parts to the same schema before recording this part
    // (after a crash in between, start-up normalises them to the recorded schema again).
    if trial_schema.columns.len() > trial_schema.recorded {
        normalise_parts(out_dir, sweep, "trials", &trial_schema.columns, part - 1)?;
    }
    if epoch_schema.columns.len() > epoch_schema.recorded {
        normalise_parts(out_dir, sweep, "epochs", &epoch_schema.columns, part - 1)?;
    }
    let mut new_columns = trial_schema.new_columns("trials");
    new_columns.extend(epoch_schema.new_columns("epochs"));
    engine.record_part_blocking(PartRecord {
        sweep: sweep.name.clone(),
        part,
        trial_ids: trials.iter().map(|t| t.trial_id.clone()).collect(),
        trials_rows,
        epochs_rows,
        new_columns,
    })?;
    trial_schema.recorded = trial_schema.columns.len();
    epoch_schema.recorded = epoch_schema.columns.len();
    debug!(sweep = %sweep.name, part, trials_rows, epochs_rows, "parquet part written");
    Ok(())
}

/// The sink thread.
pub struct Sink {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<u64>>,
}

impl Sink {
    /// Starts the sink thread; it writes finished trials every `flush_interval`.
    pub fn start(engine: Engine, config: SinkConfig) -> Result<Sink> {
        let conn = state::open_reader(&config.state_dir)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hyperplane-sink".into())
            .spawn(move || {
                let mut sinks = HashMap::new();
                let mut parts = 0;
                loop {
                    let started = Instant::now();
                    while started.elapsed() < config.flush_interval && !stop_flag.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    let stopping = stop_flag.load(Ordering::Relaxed);
                    match flush(&engine, &conn, &config.out_dir, &mut sinks) {
                        Ok(n) => {
                            if n > 0 && engine.output_error().is_some() {
                                info!(out = %config.out_dir.display(), "writing Parquet works again");
                            }
                            engine.set_output_error(None);
                            parts += n;
                        }
                        // Results stay in SQLite; the next flush tries again.
                        Err(e) => {
                            warn!(error = %e, out = %config.out_dir.display(), "writing Parquet failed; results are kept in SQLite and the next flush retries");
                            engine.set_output_error(Some(format!("{e}")));
                            if stopping {
                                return Err(e);
                            }
                        }
                    }
                    if stopping {
                        return Ok(parts);
                    }
                }
            })
            .map_err(|e| CoordinatorError::io("spawning the sink thread", e))?;
        Ok(Sink { stop, thread })
    }

    /// Writes everything still unwritten and stops. Returns the number of parts written
    /// during the sink's lifetime.
    pub fn finish(self) -> Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| CoordinatorError::Parquet("the sink thread panicked".into()))?
    }
}
