//! Site profiles (`hardware/sites/*.toml`): grid carbon intensity, PUE and
//! electricity price, each with its source, year and licence.

use super::{check_pos, has_year, CatalogError};
use crate::units::{GramsPerKwh, UsdPerKwh};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    #[serde(skip_deserializing)]
    pub id: String,
    pub name: String,
    pub country: String,
    pub region: Option<String>,
    pub kind: String,
    pub cloud: Option<String>,
    pub grid_gco2e_per_kwh: f64,
    pub grid_year: u32,
    pub grid_source: String,
    pub grid_licence: String,
    pub pue: f64,
    pub pue_source: String,
    pub electricity_usd_per_kwh: f64,
    pub electricity_source: String,
}

impl Site {
    pub(crate) fn validate(&self, file: &str) -> Result<(), CatalogError> {
        if !self.grid_gco2e_per_kwh.is_finite() || self.grid_gco2e_per_kwh < 0.0 || self.grid_gco2e_per_kwh > 2000.0 {
            return Err(CatalogError::invalid(file, "grid_gco2e_per_kwh", "must be in [0, 2000]"));
        }
        if !(1990..=2030).contains(&self.grid_year) {
            return Err(CatalogError::invalid(file, "grid_year", "not a plausible year"));
        }
        if self.grid_source.trim().is_empty() || self.grid_licence.trim().is_empty() {
            return Err(CatalogError::invalid(file, "grid_source", "grid intensity needs a source and a licence"));
        }
        if !self.pue.is_finite() || !(1.0..=3.0).contains(&self.pue) {
            return Err(CatalogError::invalid(file, "pue", format!("{} must be in [1, 3]", self.pue)));
        }
        if !has_year(&self.pue_source) {
            return Err(CatalogError::invalid(file, "pue_source", "must cite a year"));
        }
        check_pos(file, "electricity_usd_per_kwh", self.electricity_usd_per_kwh, 10.0)?;
        if !has_year(&self.electricity_source) {
            return Err(CatalogError::invalid(file, "electricity_source", "must cite a year"));
        }
        Ok(())
    }
    #[must_use]
    pub fn grid(&self) -> GramsPerKwh {
        GramsPerKwh::new(self.grid_gco2e_per_kwh)
    }
    #[must_use]
    pub fn price(&self) -> UsdPerKwh {
        UsdPerKwh::new(self.electricity_usd_per_kwh)
    }
}
