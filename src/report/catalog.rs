//! `flopprint list` and `flopprint show`: catalog entries as text.

use crate::catalog::{self, CatalogError, Kind};

/// One line per catalog entry of `kind`.
///
/// # Errors
/// A catalog file that does not load (tested not to happen).
pub fn list(kind: Kind) -> Result<String, CatalogError> {
    let mut out = String::new();
    for id in catalog::ids(kind) {
        let line = match kind {
            Kind::Accelerator => catalog::accelerator(&id).map(|a| format!("{id:<22} {} ({} GiB, {} W)", a.name, a.memory_gib, a.tdp_w))?,
            Kind::System => {
                catalog::system(&id).map(|s| format!("{id:<22} {} ({} x {}, {} W max)", s.name, s.accelerators_per_node, s.accelerator, s.node_max_power_w))?
            }
            Kind::Site => catalog::site(&id).map(|s| format!("{id:<32} {} ({} gCO2e/kWh, PUE {})", s.name, s.grid_gco2e_per_kwh, s.pue))?,
            Kind::Model => catalog::model(&id).map(|m| format!("{id:<24} {} ({} params)", m.name, super::si(m.params().total)))?,
        };
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// Errors of `show`.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    #[error("unknown id `{0}`: not an accelerator, system, site or model; run `flopprint list hardware|systems|sites|models`")]
    Unknown(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("cannot print the entry: {0}")]
    Toml(#[from] toml::ser::Error),
}

/// One catalog entry as TOML with its sources.
///
/// # Errors
/// An id that is in no catalog.
pub fn show(id: &str) -> Result<String, ShowError> {
    for kind in [Kind::Accelerator, Kind::System, Kind::Site, Kind::Model] {
        if catalog::ids(kind).iter().any(|i| i == id) {
            let body = match kind {
                Kind::Accelerator => toml::to_string_pretty(&catalog::accelerator(id)?)?,
                Kind::System => toml::to_string_pretty(&catalog::system(id)?)?,
                Kind::Site => toml::to_string_pretty(&catalog::site(id)?)?,
                Kind::Model => {
                    let m = catalog::model(id)?;
                    let p = m.params();
                    format!("{}\n# computed: params_total = {:.4e}, params_active = {:.4e}\n", toml::to_string_pretty(&m)?, p.total, p.active)
                }
            };
            return Ok(format!("# {}/{id}.toml\n{body}", kind.prefix()));
        }
    }
    Err(ShowError::Unknown(id.to_string()))
}
