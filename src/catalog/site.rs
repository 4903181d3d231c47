//! Site profiles (`hardware/sites/*.toml`): grid carbon intensity, PUE and
//! electricity price, each with its source, year and licence.
//!
//! Grid intensity has a *basis* (see [`GridBasis`]): every site states the
//! basis of its primary figure (`grid_basis`) and may carry the same grid on
//! another basis (`grid_lifecycle_*`, `grid_direct_*`), each with its own year
//! and source. [`Site::grid_for`] picks the figure for a basis.

use super::{check_pos, has_year, CatalogError};
use crate::units::{GramsPerKwh, UsdPerKwh};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a grid carbon-intensity figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GridBasis {
    /// Life-cycle: combustion plus upstream (fuel extraction, transport,
    /// plant construction), e.g. Ember / Our World in Data country figures,
    /// which use IPCC AR5 Annex III life-cycle factors per source.
    Lifecycle,
    /// Direct (operational, stack) emissions of generation only, location
    /// based, e.g. US EPA eGRID output emission rates and Google Cloud's
    /// region "grid carbon intensity" since its 2021 data.
    Direct,
    /// Market based (GHG Protocol Scope 2): after contractual instruments
    /// (PPAs, certificates); a property of a buyer, not of a grid.
    Market,
}

impl GridBasis {
    pub const ALL: [GridBasis; 3] = [GridBasis::Lifecycle, GridBasis::Direct, GridBasis::Market];
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            GridBasis::Lifecycle => "lifecycle",
            GridBasis::Direct => "direct",
            GridBasis::Market => "market",
        }
    }
}

impl fmt::Display for GridBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for GridBasis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GridBasis::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown grid basis `{s}`; use lifecycle, direct or market"))
    }
}

/// One grid figure with its basis, year and source.
#[derive(Debug, Clone, PartialEq)]
pub struct GridFigure {
    pub basis: GridBasis,
    pub gco2e_per_kwh: f64,
    pub year: u32,
    pub source: String,
}

impl GridFigure {
    #[must_use]
    pub fn grid(&self) -> GramsPerKwh {
        GramsPerKwh::new(self.gco2e_per_kwh)
    }
}

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
    /// Primary grid figure, on the basis `grid_basis`.
    pub grid_gco2e_per_kwh: f64,
    pub grid_year: u32,
    pub grid_source: String,
    pub grid_licence: String,
    /// Basis of the primary figure. Required: a site without one fails to load.
    pub grid_basis: GridBasis,
    /// The same grid on a life-cycle basis, where the primary figure is not
    /// (converted or from another source; `grid_lifecycle_source` says how).
    pub grid_lifecycle_gco2e_per_kwh: Option<f64>,
    pub grid_lifecycle_year: Option<u32>,
    pub grid_lifecycle_source: Option<String>,
    /// The same grid on a direct-emissions basis, where the primary is not.
    pub grid_direct_gco2e_per_kwh: Option<f64>,
    pub grid_direct_year: Option<u32>,
    pub grid_direct_source: Option<String>,
    pub pue: f64,
    pub pue_source: String,
    pub electricity_usd_per_kwh: f64,
    pub electricity_source: String,
}

fn check_grid_value(file: &str, field: &str, v: f64) -> Result<(), CatalogError> {
    if !v.is_finite() || !(0.0..=2000.0).contains(&v) {
        return Err(CatalogError::invalid(file, field, format!("{v} must be in [0, 2000] gCO2e/kWh")));
    }
    Ok(())
}

fn check_grid_year(file: &str, field: &str, y: u32) -> Result<(), CatalogError> {
    if !(1990..=2030).contains(&y) {
        return Err(CatalogError::invalid(file, field, format!("{y} is not a plausible year")));
    }
    Ok(())
}

impl Site {
    pub(crate) fn validate(&self, file: &str) -> Result<(), CatalogError> {
        check_grid_value(file, "grid_gco2e_per_kwh", self.grid_gco2e_per_kwh)?;
        check_grid_year(file, "grid_year", self.grid_year)?;
        if self.grid_source.trim().is_empty() || self.grid_licence.trim().is_empty() {
            return Err(CatalogError::invalid(file, "grid_source", "grid intensity needs a source and a licence"));
        }
        for (basis, value, year, source) in [
            (GridBasis::Lifecycle, self.grid_lifecycle_gco2e_per_kwh, self.grid_lifecycle_year, &self.grid_lifecycle_source),
            (GridBasis::Direct, self.grid_direct_gco2e_per_kwh, self.grid_direct_year, &self.grid_direct_source),
        ] {
            let field = format!("grid_{basis}_gco2e_per_kwh");
            match (value, year, source) {
                (None, None, None) => {}
                (Some(v), Some(y), Some(s)) => {
                    if basis == self.grid_basis {
                        return Err(CatalogError::invalid(
                            file,
                            &field,
                            format!("the primary figure is already on the {basis} basis; give the alternative for another basis"),
                        ));
                    }
                    check_grid_value(file, &field, v)?;
                    check_grid_year(file, &format!("grid_{basis}_year"), y)?;
                    if s.trim().is_empty() {
                        return Err(CatalogError::invalid(file, &format!("grid_{basis}_source"), "must say where the figure comes from"));
                    }
                }
                (Some(_), None, _) => {
                    return Err(CatalogError::invalid(file, &format!("grid_{basis}_year"), "a grid value needs its year"));
                }
                _ => {
                    return Err(CatalogError::invalid(
                        file,
                        &field,
                        format!("give grid_{basis}_gco2e_per_kwh, grid_{basis}_year and grid_{basis}_source together"),
                    ));
                }
            }
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

    /// The primary grid figure (basis [`Site::grid_basis`]).
    #[must_use]
    pub fn grid(&self) -> GramsPerKwh {
        GramsPerKwh::new(self.grid_gco2e_per_kwh)
    }

    /// The primary figure with its basis, year and source.
    #[must_use]
    pub fn primary_grid(&self) -> GridFigure {
        GridFigure { basis: self.grid_basis, gco2e_per_kwh: self.grid_gco2e_per_kwh, year: self.grid_year, source: self.grid_source.clone() }
    }

    /// The grid figure on `basis`, if the site has one: the primary figure
    /// when its basis matches, else the alternative for that basis.
    #[must_use]
    pub fn grid_for(&self, basis: GridBasis) -> Option<GridFigure> {
        if basis == self.grid_basis {
            return Some(self.primary_grid());
        }
        let (v, y, s) = match basis {
            GridBasis::Lifecycle => (self.grid_lifecycle_gco2e_per_kwh, self.grid_lifecycle_year, &self.grid_lifecycle_source),
            GridBasis::Direct => (self.grid_direct_gco2e_per_kwh, self.grid_direct_year, &self.grid_direct_source),
            GridBasis::Market => (None, None, &None),
        };
        Some(GridFigure { basis, gco2e_per_kwh: v?, year: y?, source: s.clone()? })
    }

    /// [`Site::grid_for`], falling back to the primary figure (whose
    /// `basis` then tells the caller what it got).
    #[must_use]
    pub fn grid_for_or_primary(&self, basis: GridBasis) -> GridFigure {
        self.grid_for(basis).unwrap_or_else(|| self.primary_grid())
    }

    #[must_use]
    pub fn price(&self) -> UsdPerKwh {
        UsdPerKwh::new(self.electricity_usd_per_kwh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> String {
        "name = \"t\"\ncountry = \"XX\"\nkind = \"country\"\ngrid_gco2e_per_kwh = 100.0\ngrid_year = 2024\n\
         grid_source = \"s (2024)\"\ngrid_licence = \"CC-BY-4.0\"\npue = 1.2\npue_source = \"p (2024)\"\n\
         electricity_usd_per_kwh = 0.1\nelectricity_source = \"e (2024)\"\n"
            .to_string()
    }

    #[test]
    fn basis_is_required() {
        assert!(crate::catalog::parse_site("t", &base()).is_err());
        let s = crate::catalog::parse_site("t", &(base() + "grid_basis = \"lifecycle\"\n")).unwrap();
        assert_eq!(s.grid_basis, GridBasis::Lifecycle);
        assert!(crate::catalog::parse_site("t", &(base() + "grid_basis = \"nope\"\n")).is_err());
    }

    #[test]
    fn alternative_needs_year_and_other_basis() {
        let direct = base() + "grid_basis = \"direct\"\n";
        let no_year = direct.clone() + "grid_lifecycle_gco2e_per_kwh = 120.0\ngrid_lifecycle_source = \"x (2024)\"\n";
        let e = crate::catalog::parse_site("t", &no_year).unwrap_err().to_string();
        assert!(e.contains("year"), "{e}");
        let ok = no_year + "grid_lifecycle_year = 2024\n";
        let s = crate::catalog::parse_site("t", &ok).unwrap();
        assert_eq!(s.grid_for(GridBasis::Lifecycle).unwrap().gco2e_per_kwh, 120.0);
        assert_eq!(s.grid_for(GridBasis::Direct).unwrap().gco2e_per_kwh, 100.0);
        assert!(s.grid_for(GridBasis::Market).is_none());
        assert_eq!(s.grid_for_or_primary(GridBasis::Market).basis, GridBasis::Direct);
        let same = base() + "grid_basis = \"lifecycle\"\ngrid_lifecycle_gco2e_per_kwh = 1.0\ngrid_lifecycle_year = 2024\ngrid_lifecycle_source = \"x\"\n";
        assert!(crate::catalog::parse_site("t", &same).is_err());
    }

    #[test]
    fn basis_parses() {
        assert_eq!("Lifecycle".parse::<GridBasis>().unwrap(), GridBasis::Lifecycle);
        assert!("x".parse::<GridBasis>().is_err());
    }
}
