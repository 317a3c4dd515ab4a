//! The embedded catalogue of presets: every YAML file of the top-level `collectors/` folder,
//! embedded by `build.rs` (adding a preset is adding a file).
//! A preset is a partial collector definition; the user's keys override its keys.

/// One built-in preset.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The name used in `preset:`.
    pub name: &'static str,
    /// The YAML text of `collectors/<name>.yaml`.
    pub yaml: &'static str,
}

/// Every preset: one per `collectors/*.yaml`, sorted by name, found by `build.rs`.
pub const PRESETS: &[Preset] = include!(concat!(env!("OUT_DIR"), "/presets.rs"));

impl Preset {
    /// The preset as a YAML mapping.
    pub fn mapping(&self) -> Result<serde_yaml::Mapping, String> {
        serde_yaml::from_str(self.yaml).map_err(|e| e.to_string())
    }

    /// The first sentence of its `description:`, for the preset list.
    pub fn description(&self) -> String {
        let text = self
            .mapping()
            .ok()
            .and_then(|m| {
                m.get("description")
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let paragraph = text.split("\n\n").next().unwrap_or_default();
        let joined = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
        match joined.find(". ") {
            Some(end) => joined[..=end].to_string(),
            None => joined,
        }
    }
}

/// The preset called `name`.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The names of all presets.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}
