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

    /// Its `detect:` section, typed (`None` when it has none).
    pub fn detect(&self) -> Result<Option<super::Detect>, String> {
        let mapping = self.mapping()?;
        match mapping.get("detect") {
            None => Ok(None),
            Some(value) => serde_yaml::from_value(value.clone())
                .map(Some)
                .map_err(|e| format!("collectors/{}.yaml: detect: {e}", self.name)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_detect_section_parses_and_its_patterns_compile() {
        let mut with_probe = 0;
        for preset in PRESETS {
            let detect = preset
                .detect()
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("collectors/{}.yaml has no detect:", preset.name));
            detect
                .cmdline_patterns()
                .unwrap_or_else(|e| panic!("collectors/{}.yaml: {e}", preset.name));
            if let Some(probe) = &detect.probe {
                probe
                    .spec()
                    .unwrap_or_else(|e| panic!("collectors/{}.yaml: {e}", preset.name));
                with_probe += 1;
            }
            assert!(
                !detect.ports.is_empty() || !detect.process_names.is_empty(),
                "collectors/{}.yaml: detect: names neither ports nor process names",
                preset.name
            );
        }
        assert_eq!(with_probe, PRESETS.len(), "every preset can be confirmed");
    }

    #[test]
    fn a_misspelt_detect_key_or_a_writing_probe_is_refused() {
        let typo: Result<crate::config::Detect, _> =
            serde_yaml::from_str("ports: [80]\nprocess_name: [nginx]\n");
        assert!(typo.unwrap_err().to_string().contains("process_name"));
        let post: crate::config::DetectProbe =
            serde_yaml::from_str("request: POST /x\nexpect: y\n").unwrap();
        assert!(post.spec().unwrap_err().contains("GET /path"));
        let both: crate::config::DetectProbe =
            serde_yaml::from_str("request: GET /x\nsend: y\nexpect: y\n").unwrap();
        assert!(both.spec().is_err());
    }
}
