//! The data catalog: accelerators, systems (nodes), sites and models.
//!
//! Every file under `hardware/` and `models/` is embedded in the binary at
//! build time (no network and no working-directory dependence at run time).
//! The file name is the id. Each file carries a `source` and `source_year`
//! that cover all its numbers, and a `[field_sources]` table for the fields
//! whose source differs; [`validate_field_sources`] checks that every such
//! entry names a known field and a year.

mod accelerator;
mod hf;
mod model;
mod site;
mod system;

pub use accelerator::{Accelerator, AcceleratorKind, PeakTflops, PriceRange, PriceTier, RentalTiers};
pub use hf::from_hf_config;
pub use model::{Activation, Arch, Mla, ModelSpec, Moe, Norm, Position, TrainingRun};
pub use site::{GridBasis, GridFigure, Site};
pub use system::{Link, System};

use include_dir::{include_dir, Dir};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

static HARDWARE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/hardware");
static MODELS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/models");

/// Errors from loading or validating catalog data.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("unknown {kind} id `{id}`{hint}; run `flopprint list {list}` to see the ids")]
    UnknownId { kind: &'static str, id: String, hint: String, list: &'static str },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: field `{field}`: {message}")]
    Invalid { file: String, field: String, message: String },
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
}

impl CatalogError {
    pub(crate) fn invalid(file: &str, field: &str, message: impl Into<String>) -> Self {
        Self::Invalid { file: file.to_string(), field: field.to_string(), message: message.into() }
    }
}

/// Which directory of the catalog an entry lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Accelerator,
    System,
    Site,
    Model,
}

impl Kind {
    fn dir(self) -> (&'static Dir<'static>, &'static str) {
        match self {
            Kind::Accelerator => (&HARDWARE, "accelerators"),
            Kind::System => (&HARDWARE, "systems"),
            Kind::Site => (&HARDWARE, "sites"),
            Kind::Model => (&MODELS, ""),
        }
    }
    /// Path prefix shown in messages (`hardware/accelerators`).
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Accelerator => "hardware/accelerators",
            Kind::System => "hardware/systems",
            Kind::Site => "hardware/sites",
            Kind::Model => "models",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Kind::Accelerator => "accelerator",
            Kind::System => "system",
            Kind::Site => "site",
            Kind::Model => "model",
        }
    }
    fn list_name(self) -> &'static str {
        match self {
            Kind::Accelerator => "hardware",
            Kind::System => "systems",
            Kind::Site => "sites",
            Kind::Model => "models",
        }
    }
}

/// All ids of one kind, sorted.
#[must_use]
pub fn ids(kind: Kind) -> Vec<String> {
    let (root, sub) = kind.dir();
    let dir = if sub.is_empty() { Some(root) } else { root.get_dir(sub) };
    let mut out: Vec<String> = dir
        .map(|d| {
            d.files()
                .filter(|f| f.path().extension().is_some_and(|e| e == "toml"))
                .filter_map(|f| f.path().file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn raw(kind: Kind, id: &str) -> Result<(String, &'static str), CatalogError> {
    let (root, sub) = kind.dir();
    let path = if sub.is_empty() { format!("{id}.toml") } else { format!("{sub}/{id}.toml") };
    match root.get_file(&path).and_then(|f| f.contents_utf8()) {
        Some(text) => Ok((format!("{}/{id}.toml", kind.prefix()), text)),
        None => Err(CatalogError::UnknownId { kind: kind.noun(), id: id.to_string(), hint: suggest(id, &ids(kind)), list: kind.list_name() }),
    }
}

/// "; did you mean `x`?" for the closest id by edit distance, or "".
pub(crate) fn suggest(id: &str, candidates: &[String]) -> String {
    let best = candidates.iter().map(|c| (levenshtein(id, c), c)).min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= 3.max(id.len() / 3) => format!("; did you mean `{c}`?"),
        _ => String::new(),
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

pub(crate) fn parse_toml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, CatalogError> {
    toml::from_str(text).map_err(|e| CatalogError::Parse { file: file.to_string(), message: e.to_string().trim_end().replace('\n', "\n  ") })
}

/// Parsed and validated embedded entries by id. The embedded files cannot
/// change while the program runs, so an entry is loaded once (a sweep
/// resolves the same few ids thousands of times); errors are not kept.
struct Cache<T>(OnceLock<Mutex<HashMap<String, T>>>);

impl<T: Clone> Cache<T> {
    const fn new() -> Self {
        Self(OnceLock::new())
    }
    fn get(&self, id: &str, load: impl FnOnce() -> Result<T, CatalogError>) -> Result<T, CatalogError> {
        let map = self.0.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(v) = map.lock().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(v);
        }
        let v = load()?;
        if let Ok(mut m) = map.lock() {
            m.insert(id.to_string(), v.clone());
        }
        Ok(v)
    }
}

/// A catalog entry: parsed from TOML, then given its id and validated.
trait Entry: DeserializeOwned {
    fn set_id(&mut self, id: &str);
    fn check(&self, file: &str) -> Result<(), CatalogError>;
}

macro_rules! entry {
    ($($t:ty),*) => {$(
        impl Entry for $t {
            fn set_id(&mut self, id: &str) {
                self.id = id.to_string();
            }
            fn check(&self, file: &str) -> Result<(), CatalogError> {
                self.validate(file)
            }
        }
    )*};
}
entry!(Accelerator, System, Site, ModelSpec);

/// Parses `text` of `file` as an entry with id `id`, and validates it.
fn parse_entry<T: Entry>(file: &str, id: &str, text: &str) -> Result<T, CatalogError> {
    let mut v: T = parse_toml(file, text)?;
    v.set_id(id);
    v.check(file)?;
    Ok(v)
}

/// Loads an embedded entry of `kind` by id through its cache.
fn load<T: Entry + Clone>(cache: &Cache<T>, kind: Kind, id: &str) -> Result<T, CatalogError> {
    cache.get(id, || {
        let (file, text) = raw(kind, id)?;
        parse_entry(&file, id, text)
    })
}

static ACCELERATORS: Cache<Accelerator> = Cache::new();
static SYSTEMS: Cache<System> = Cache::new();
static SITES: Cache<Site> = Cache::new();
static MODEL_SPECS: Cache<ModelSpec> = Cache::new();

/// Loads and validates one accelerator by id.
///
/// # Errors
/// Unknown id (with a suggestion), malformed TOML, or a field out of range.
pub fn accelerator(id: &str) -> Result<Accelerator, CatalogError> {
    load(&ACCELERATORS, Kind::Accelerator, id)
}

/// Loads and validates one system (node) by id.
///
/// # Errors
/// Unknown id, malformed TOML, a field out of range, or an unknown accelerator.
pub fn system(id: &str) -> Result<System, CatalogError> {
    load(&SYSTEMS, Kind::System, id)
}

/// Loads and validates one site by id.
///
/// # Errors
/// Unknown id, malformed TOML, or a field out of range.
pub fn site(id: &str) -> Result<Site, CatalogError> {
    load(&SITES, Kind::Site, id)
}

/// Parses and validates a site from TOML text (not from the catalog): for
/// checking a site file before adding it, and for tests.
///
/// # Errors
/// Malformed TOML, a missing field (e.g. `grid_basis`), or a field out of range.
pub fn parse_site(id: &str, text: &str) -> Result<Site, CatalogError> {
    parse_entry(&format!("{}/{id}.toml", Kind::Site.prefix()), id, text)
}

/// Loads a model: a catalog id, a model TOML path, or a Hugging Face
/// `config.json` path on disk.
///
/// # Errors
/// Unknown id, unreadable file, malformed TOML/JSON, missing essential keys.
pub fn model(id_or_path: &str) -> Result<ModelSpec, CatalogError> {
    let looks_like_path =
        id_or_path.contains('/') || id_or_path.contains('\\') || Path::new(id_or_path).extension().is_some_and(|e| e == "json" || e == "toml");
    if looks_like_path {
        let path = Path::new(id_or_path);
        let file = id_or_path.to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Io {
            file: file.clone(),
            message: format!("{e}; `--model` takes a catalog id (see `flopprint list models`), a model TOML, or a Hugging Face config.json"),
        })?;
        let mut m = if path.extension().is_some_and(|e| e == "json") {
            from_hf_config(&file, &text)?
        } else {
            let mut m: ModelSpec = parse_toml(&file, &text)?;
            m.id = path.file_stem().map_or_else(|| file.clone(), |s| s.to_string_lossy().into_owned());
            m
        };
        if m.id.is_empty() {
            m.id = path.file_stem().map_or_else(|| file.clone(), |s| s.to_string_lossy().into_owned());
        }
        m.validate(&file)?;
        return Ok(m);
    }
    load(&MODEL_SPECS, Kind::Model, id_or_path)
}

/// Checks a `[field_sources]` table: every key is a field of the file, every
/// value cites a year (a 4-digit number 1950–2099).
pub(crate) fn validate_field_sources(file: &str, sources: &BTreeMap<String, String>, known: &[&str]) -> Result<(), CatalogError> {
    for (k, v) in sources {
        let head = k.split('.').next().unwrap_or(k);
        if !known.contains(&head) {
            return Err(CatalogError::invalid(file, &format!("field_sources.{k}"), format!("names no field of this file (known: {})", known.join(", "))));
        }
        if !has_year(v) {
            return Err(CatalogError::invalid(file, &format!("field_sources.{k}"), "source must cite a year (e.g. \"... (2023)\")"));
        }
    }
    Ok(())
}

pub(crate) fn has_year(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(4).enumerate().any(|(i, w)| {
        w.iter().all(u8::is_ascii_digit)
            && (w[0] == b'1' && w[1] == b'9' || w[0] == b'2' && w[1] == b'0')
            && (i == 0 || !b[i - 1].is_ascii_digit())
            && b.get(i + 4).is_none_or(|c| !c.is_ascii_digit())
    })
}

pub(crate) fn check_source(file: &str, source: &str, year: u32) -> Result<(), CatalogError> {
    if source.trim().is_empty() {
        return Err(CatalogError::invalid(file, "source", "must name where the numbers come from"));
    }
    if !(1950..=2030).contains(&year) {
        return Err(CatalogError::invalid(file, "source_year", format!("{year} is not a plausible year")));
    }
    Ok(())
}

/// A positive, finite number, at most `max`.
pub(crate) fn check_pos(file: &str, field: &str, v: f64, max: f64) -> Result<(), CatalogError> {
    if !v.is_finite() || v <= 0.0 || v > max {
        return Err(CatalogError::invalid(file, field, format!("{v} must be a finite number in (0, {max}]")));
    }
    Ok(())
}

/// Loads every file of every kind; returns the ids loaded per kind. Used by
/// `flopprint list` and by the catalog test.
///
/// # Errors
/// The first file that fails to load, naming the file and field.
pub fn validate_all() -> Result<BTreeMap<&'static str, usize>, CatalogError> {
    let mut counts = BTreeMap::new();
    for (kind, name) in [(Kind::Accelerator, "accelerators"), (Kind::System, "systems"), (Kind::Site, "sites"), (Kind::Model, "models")] {
        let all = ids(kind);
        for id in &all {
            match kind {
                Kind::Accelerator => drop(accelerator(id)?),
                Kind::System => drop(system(id)?),
                Kind::Site => drop(site(id)?),
                Kind::Model => drop(model(id)?),
            }
        }
        counts.insert(name, all.len());
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_detection() {
        assert!(has_year("NVIDIA datasheet (2020)"));
        assert!(has_year("2021 report"));
        assert!(!has_year("no year here"));
        assert!(!has_year("model 12345"));
    }

    #[test]
    fn suggestions() {
        let c = vec!["a100-sxm4-80gb".to_string(), "h100-sxm5-80gb".to_string()];
        assert!(suggest("a100-sxm4-80g", &c).contains("a100-sxm4-80gb"));
        assert_eq!(suggest("zzzzzzzzzzzzzzzzzzzz", &c), "");
    }
}
