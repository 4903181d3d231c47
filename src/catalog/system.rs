//! System (node) profiles (`hardware/systems/*.toml`): accelerators per node,
//! node power at idle and maximum, price, links.

use super::{check_pos, check_source, validate_field_sources, CatalogError};
use crate::units::{BytesPerSec, KgCo2e, Seconds, Usd, Watts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A network tier: NVLink/NVSwitch inside a node, InfiniBand across nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub name: String,
    /// Intra-node: per accelerator, per direction, GB/s.
    pub bandwidth_gb_s: Option<f64>,
    /// Inter-node: NICs per node.
    pub nics_per_node: Option<u32>,
    /// Inter-node: per NIC, per direction, Gbit/s.
    pub nic_gbit_s: Option<f64>,
    pub latency_us: Option<f64>,
}

impl Link {
    /// Bandwidth per node per direction for an inter-node link, or per
    /// accelerator for an intra-node link.
    #[must_use]
    pub fn bandwidth(&self) -> Option<BytesPerSec> {
        if let Some(b) = self.bandwidth_gb_s {
            return Some(BytesPerSec::from_gb_s(b));
        }
        match (self.nics_per_node, self.nic_gbit_s) {
            (Some(n), Some(g)) => Some(BytesPerSec::new(f64::from(n) * g * 1e9 / 8.0)),
            _ => None,
        }
    }
    #[must_use]
    pub fn latency(&self) -> Seconds {
        Seconds::new(self.latency_us.unwrap_or(5.0) * 1e-6)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    #[serde(skip_deserializing)]
    pub id: String,
    pub name: String,
    pub accelerator: String,
    pub accelerators_per_node: u32,
    pub year: u32,
    pub source: String,
    pub source_year: u32,
    pub node_max_power_w: f64,
    pub node_idle_power_w: f64,
    pub price_usd: Option<f64>,
    pub price_year: Option<u32>,
    pub embodied_non_accelerator_kgco2e: Option<f64>,
    pub embodied_method: Option<String>,
    pub lifetime_years: Option<f64>,
    pub intra_node: Option<Link>,
    pub inter_node: Option<Link>,
    /// Host (CPU) link per accelerator, per direction, GB/s: what offloaded
    /// weights, activations and optimizer states move over (PCIe on most
    /// systems). Optional; without it the plan search does not offload.
    pub host_link_gb_s: Option<f64>,
    /// Host (CPU) memory per node, GiB, shared by its accelerators for
    /// offloaded tensors. Optional; without it no offload is searched.
    pub host_memory_gib: Option<f64>,
    #[serde(default)]
    pub field_sources: BTreeMap<String, String>,
}

const FIELDS: &[&str] = &[
    "name",
    "accelerator",
    "accelerators_per_node",
    "year",
    "node_max_power_w",
    "node_idle_power_w",
    "price_usd",
    "price_year",
    "embodied_non_accelerator_kgco2e",
    "embodied_method",
    "lifetime_years",
    "intra_node",
    "inter_node",
    "host_link_gb_s",
    "host_memory_gib",
];

impl System {
    pub(crate) fn validate(&self, file: &str) -> Result<(), CatalogError> {
        check_source(file, &self.source, self.source_year)?;
        if self.accelerators_per_node == 0 || self.accelerators_per_node > 1024 {
            return Err(CatalogError::invalid(file, "accelerators_per_node", "must be in 1..=1024"));
        }
        check_pos(file, "node_max_power_w", self.node_max_power_w, 1e6)?;
        check_pos(file, "node_idle_power_w", self.node_idle_power_w, 1e6)?;
        if self.node_idle_power_w >= self.node_max_power_w {
            return Err(CatalogError::invalid(file, "node_idle_power_w", "must be below node_max_power_w"));
        }
        let acc = super::accelerator(&self.accelerator).map_err(|e| CatalogError::invalid(file, "accelerator", e.to_string()))?;
        let n = f64::from(self.accelerators_per_node);
        if acc.tdp_w * n > self.node_max_power_w {
            return Err(CatalogError::invalid(
                file,
                "node_max_power_w",
                format!("{} W is below its accelerators' TDP sum {} W", self.node_max_power_w, acc.tdp_w * n),
            ));
        }
        if acc.idle_w * n > self.node_idle_power_w {
            return Err(CatalogError::invalid(
                file,
                "node_idle_power_w",
                format!("{} W is below its accelerators' idle sum {} W", self.node_idle_power_w, acc.idle_w * n),
            ));
        }
        if let Some(p) = self.price_usd {
            check_pos(file, "price_usd", p, 1e9)?;
            if self.price_year.is_none() {
                return Err(CatalogError::invalid(file, "price_year", "required with price_usd"));
            }
        }
        if let Some(e) = self.embodied_non_accelerator_kgco2e {
            if !e.is_finite() || e < 0.0 {
                return Err(CatalogError::invalid(file, "embodied_non_accelerator_kgco2e", "must be >= 0"));
            }
        }
        if let Some(l) = self.lifetime_years {
            check_pos(file, "lifetime_years", l, 50.0)?;
        }
        for (name, link) in [("intra_node", &self.intra_node), ("inter_node", &self.inter_node)] {
            if let Some(l) = link {
                if let Some(b) = l.bandwidth_gb_s {
                    check_pos(file, &format!("{name}.bandwidth_gb_s"), b, 1e6)?;
                }
                if let Some(b) = l.nic_gbit_s {
                    check_pos(file, &format!("{name}.nic_gbit_s"), b, 1e6)?;
                }
                if let Some(b) = l.latency_us {
                    check_pos(file, &format!("{name}.latency_us"), b, 1e6)?;
                }
            }
        }
        if let Some(b) = self.host_link_gb_s {
            check_pos(file, "host_link_gb_s", b, 1e4)?;
        }
        if let Some(m) = self.host_memory_gib {
            check_pos(file, "host_memory_gib", m, 1e7)?;
        }
        validate_field_sources(file, &self.field_sources, FIELDS)
    }

    #[must_use]
    pub fn max_power(&self) -> Watts {
        Watts::new(self.node_max_power_w)
    }
    #[must_use]
    pub fn idle_power(&self) -> Watts {
        Watts::new(self.node_idle_power_w)
    }
    #[must_use]
    pub fn price(&self) -> Option<Usd> {
        self.price_usd.map(Usd::new)
    }
    #[must_use]
    pub fn embodied_non_accelerator(&self) -> KgCo2e {
        KgCo2e::new(self.embodied_non_accelerator_kgco2e.unwrap_or(0.0))
    }
    #[must_use]
    pub fn source_of(&self, field: &str) -> String {
        self.field_sources.get(field).cloned().unwrap_or_else(|| format!("{} ({})", self.source, self.source_year))
    }
}
