//! JSON: one object, field names carry units (the scripting contract).

use super::Exporter;
use crate::estimate::Estimate;

pub struct Json;

impl Exporter for Json {
    fn render(&self, e: &Estimate) -> Result<Vec<u8>, String> {
        let mut v = serde_json::to_vec_pretty(e).map_err(|err| err.to_string())?;
        v.push(b'\n');
        Ok(v)
    }
}
