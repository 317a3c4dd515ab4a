//! The embedded catalogue of presets: the YAML files of the top-level `collectors/` folder.
//! A preset is a partial collector definition; the user's keys override its keys.

/// One built-in preset.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The name used in `preset:`.
    pub name: &'static str,
    /// The YAML text of `collectors/<name>.yaml`.
    pub yaml: &'static str,
}

/// Every preset, in the order `sidecar-exporter presets` lists them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "nginx",
        yaml: include_str!("../collectors/nginx.yaml"),
    },
    Preset {
        name: "apache",
        yaml: include_str!("../collectors/apache.yaml"),
    },
    Preset {
        name: "php_fpm",
        yaml: include_str!("../collectors/php_fpm.yaml"),
    },
    Preset {
        name: "redis",
        yaml: include_str!("../collectors/redis.yaml"),
    },
    Preset {
        name: "memcached",
        yaml: include_str!("../collectors/memcached.yaml"),
    },
    Preset {
        name: "haproxy",
        yaml: include_str!("../collectors/haproxy.yaml"),
    },
    Preset {
        name: "spring_actuator",
        yaml: include_str!("../collectors/spring_actuator.yaml"),
    },
    Preset {
        name: "prometheus_tsdb",
        yaml: include_str!("../collectors/prometheus_tsdb.yaml"),
    },
];

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
