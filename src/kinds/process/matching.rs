//! Group matching and group name templates, as process-exporter does them, plus the matchers a
//! sidecar needs (`pidfile`, `pid`, `listening_port`, `user`).

use std::collections::{HashMap, HashSet};

use regex::Regex;

use super::GroupConfig;

/// A piece of a group name template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Comm,
    ExeBase,
    ExeFull,
    Username,
    Pid,
    Match(String),
}

/// A compiled name template such as `{{comm}}` or `app-{{matches.Port}}`. process-exporter's Go
/// template spelling (`{{.Comm}}`, `{{.ExeBase}}`, `{{.Matches.Port}}`) is accepted too, so its
/// configs can be pasted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

const PLACEHOLDERS: &str =
    "{{comm}}, {{exebase}}, {{exefull}}, {{username}}, {{pid}}, {{matches.NAME}}";

impl Template {
    /// Parses a template; unknown placeholders are errors naming the valid ones.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in name template `{text}`"))?;
            let key = after[..end].trim();
            let key = key.strip_prefix('.').unwrap_or(key);
            let lower = key.to_ascii_lowercase();
            let part = match lower.as_str() {
                "comm" => Part::Comm,
                "exebase" => Part::ExeBase,
                "exefull" => Part::ExeFull,
                "username" => Part::Username,
                "pid" => Part::Pid,
                _ if lower.starts_with("matches.") && key.len() > "matches.".len() => {
                    Part::Match(key["matches.".len()..].to_string())
                }
                _ => {
                    return Err(format!(
                        "unknown placeholder `{{{{{key}}}}}` in name template `{text}`, \
                         expected one of {PLACEHOLDERS}"
                    ))
                }
            };
            parts.push(part);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// True when the template has no placeholder: the group's name is known before any process
    /// is seen (such a group reports `num_procs 0` from the start).
    pub fn fixed_name(&self) -> Option<String> {
        match self.parts.as_slice() {
            [] => Some(String::new()),
            [Part::Literal(text)] => Some(text.clone()),
            _ => None,
        }
    }

    /// True when the template names each process apart (`{{pid}}`).
    pub fn uses_pid(&self) -> bool {
        self.parts.contains(&Part::Pid)
    }

    /// True when the template needs the user name.
    pub fn uses_username(&self) -> bool {
        self.parts.contains(&Part::Username)
    }

    fn match_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Match(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Renders the name of one process.
    pub fn render(&self, process: &ProcessFacts, captures: &HashMap<String, String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Comm => out.push_str(&process.comm),
                Part::ExeBase => out.push_str(process.exe_base()),
                Part::ExeFull => out.push_str(process.exe_full()),
                Part::Username => out.push_str(&process.username),
                Part::Pid => out.push_str(&process.pid.to_string()),
                Part::Match(name) => {
                    out.push_str(captures.get(name).map(String::as_str).unwrap_or(""))
                }
            }
        }
        out
    }
}

/// What matching looks at for one process.
#[derive(Debug, Clone, Default)]
pub struct ProcessFacts {
    /// The pid.
    pub pid: u32,
    /// The name from `stat`.
    pub comm: String,
    /// The arguments from `cmdline` (empty for kernel threads).
    pub cmdline: Vec<String>,
    /// The effective uid.
    pub euid: u32,
    /// The user name of `euid` (the number when unknown), filled only when a template needs it.
    pub username: String,
}

impl ProcessFacts {
    /// `argv[0]`, or the comm when there are no arguments (process-exporter's `ExeFull`).
    pub fn exe_full(&self) -> &str {
        self.cmdline
            .first()
            .map(String::as_str)
            .unwrap_or(&self.comm)
    }

    /// The last path component of `argv[0]` (process-exporter's `ExeBase`).
    pub fn exe_base(&self) -> &str {
        match self.cmdline.first() {
            Some(arg0) => arg0.rsplit('/').next().unwrap_or(arg0),
            None => &self.comm,
        }
    }
}

/// The figures of this collection that some matchers compare against.
#[derive(Debug, Default)]
pub struct DynamicFacts {
    /// Per group: the pid read from its `pidfile` this collection (None: no file, or garbage).
    pub pidfile_pids: Vec<Option<u32>>,
    /// The pids that hold a socket listening on each configured port.
    pub port_owners: HashMap<u16, HashSet<u32>>,
}

/// A group of `groups:`, ready to match.
#[derive(Debug)]
pub struct Group {
    /// The name template.
    pub template: Template,
    comms: Option<HashSet<String>>,
    /// `exe:` entries: base name → full path ("" when only the base name was given).
    exes: Option<HashMap<String, String>>,
    cmdlines: Vec<Regex>,
    /// `pidfile:` path.
    pub pidfile: Option<String>,
    pid: Option<u32>,
    /// `listening_port:`.
    pub listening_port: Option<u16>,
    uid: Option<u32>,
    /// `children: true`.
    pub children: bool,
}

impl Group {
    /// Compiles one `groups:` entry; `users` resolves `user:` names.
    pub fn compile(
        index: usize,
        config: &GroupConfig,
        users: &dyn Fn() -> HashMap<u32, String>,
    ) -> Result<Group, String> {
        let at = |what: String| format!("groups[{index}]: {what}");
        let template_text = if config.name.is_empty() {
            "{{exebase}}"
        } else {
            config.name.as_str()
        };
        let template = Template::parse(template_text).map_err(at)?;
        let mut cmdlines = Vec::new();
        for pattern in &config.cmdline {
            let regex = Regex::new(pattern)
                .map_err(|e| at(format!("invalid cmdline regex `{pattern}`: {e}")))?;
            cmdlines.push(regex);
        }
        for name in template.match_names() {
            if !cmdlines
                .iter()
                .any(|r| r.capture_names().any(|n| n == Some(name)))
            {
                return Err(at(format!(
                    "name template uses `matches.{name}`, but no cmdline regex has a \
                     capture group `(?P<{name}>…)`"
                )));
            }
        }
        let uid = match &config.user {
            None => None,
            Some(user) => match user.parse::<u32>() {
                Ok(uid) => Some(uid),
                Err(_) => {
                    let found = users()
                        .into_iter()
                        .find(|(_, name)| name == user)
                        .map(|(uid, _)| uid);
                    Some(found.ok_or_else(|| {
                        at(format!(
                            "unknown user `{user}` (not in /etc/passwd of this container); \
                             give the numeric uid instead"
                        ))
                    })?)
                }
            },
        };
        if config.listening_port == Some(0) {
            return Err(at("listening_port must be 1..65535".to_string()));
        }
        if config.pidfile.as_deref() == Some("") {
            return Err(at("pidfile must not be empty".to_string()));
        }
        let group = Group {
            template,
            comms: (!config.comm.is_empty()).then(|| config.comm.iter().cloned().collect()),
            exes: (!config.exe.is_empty()).then(|| {
                config
                    .exe
                    .iter()
                    .map(|e| {
                        if e.contains('/') {
                            let base = e.rsplit('/').next().unwrap_or(e);
                            (base.to_string(), e.clone())
                        } else {
                            (e.clone(), String::new())
                        }
                    })
                    .collect()
            }),
            cmdlines,
            pidfile: config.pidfile.clone(),
            pid: config.pid,
            listening_port: config.listening_port,
            uid,
            children: config.children,
        };
        if !group.has_matcher() {
            return Err(at(
                "no matcher: give at least one of comm, exe, cmdline, pidfile, pid, \
                 listening_port, user"
                    .to_string(),
            ));
        }
        Ok(group)
    }

    fn has_matcher(&self) -> bool {
        self.comms.is_some()
            || self.exes.is_some()
            || !self.cmdlines.is_empty()
            || self.pidfile.is_some()
            || self.pid.is_some()
            || self.listening_port.is_some()
            || self.uid.is_some()
    }

    /// True when matching needs the command line.
    pub fn needs_cmdline(&self) -> bool {
        self.exes.is_some()
            || !self.cmdlines.is_empty()
            || self
                .template
                .parts
                .iter()
                .any(|p| matches!(p, Part::ExeBase | Part::ExeFull))
    }

    /// True when matching needs the effective uid.
    pub fn needs_uid(&self) -> bool {
        self.uid.is_some() || self.template.uses_username()
    }

    /// Matches one process: every matcher given must agree (as in process-exporter). Returns
    /// the group name on a match.
    pub fn matches(
        &self,
        index: usize,
        process: &ProcessFacts,
        dynamic: &DynamicFacts,
    ) -> Option<String> {
        if let Some(comms) = &self.comms {
            if !comms.contains(&process.comm) {
                return None;
            }
        }
        if let Some(exes) = &self.exes {
            let arg0 = process.cmdline.first()?;
            let base = arg0.rsplit('/').next().unwrap_or(arg0);
            match exes.get(base) {
                None => return None,
                Some(full) if !full.is_empty() && full != arg0 => return None,
                Some(_) => {}
            }
        }
        if let Some(pid) = self.pid {
            if pid != process.pid {
                return None;
            }
        }
        if self.pidfile.is_some() {
            let wanted = dynamic.pidfile_pids.get(index).copied().flatten();
            if wanted != Some(process.pid) {
                return None;
            }
        }
        if let Some(port) = self.listening_port {
            if !dynamic
                .port_owners
                .get(&port)
                .is_some_and(|owners| owners.contains(&process.pid))
            {
                return None;
            }
        }
        if let Some(uid) = self.uid {
            if uid != process.euid {
                return None;
            }
        }
        let mut captures = HashMap::new();
        if !self.cmdlines.is_empty() {
            let joined = process.cmdline.join(" ");
            for regex in &self.cmdlines {
                let found = regex.captures(&joined)?;
                for name in regex.capture_names().flatten() {
                    let value = found.name(name).map(|m| m.as_str()).unwrap_or("");
                    captures.insert(name.to_string(), value.to_string());
                }
            }
        }
        Some(self.template.render(process, &captures))
    }
}

/// Parses the pid in a pidfile's content (first word; trailing newline allowed).
pub fn parse_pidfile(text: &str) -> Option<u32> {
    text.split_ascii_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pid: u32, comm: &str, cmdline: &[&str]) -> ProcessFacts {
        ProcessFacts {
            pid,
            comm: comm.to_string(),
            cmdline: cmdline.iter().map(|s| s.to_string()).collect(),
            euid: 1000,
            username: "app".to_string(),
        }
    }

    fn group(yaml: &str) -> Result<Group, String> {
        let config: GroupConfig = serde_yaml::from_str(yaml).unwrap();
        Group::compile(0, &config, &|| {
            HashMap::from([(33, "www-data".to_string())])
        })
    }

    #[test]
    fn templates() {
        let p = facts(42, "java", &["/usr/bin/java", "-jar", "app.jar"]);
        let none = HashMap::new();
        for (text, want) in [
            ("{{comm}}", "java"),
            ("{{.Comm}}", "java"),
            ("{{ exebase }}", "java"),
            ("x-{{.ExeFull}}-y", "x-/usr/bin/java-y"),
            ("{{username}}:{{pid}}", "app:42"),
            ("plain", "plain"),
        ] {
            assert_eq!(
                Template::parse(text).unwrap().render(&p, &none),
                want,
                "{text}"
            );
        }
        let caps = HashMap::from([("Port".to_string(), "8080".to_string())]);
        assert_eq!(
            Template::parse("app-{{.Matches.Port}}")
                .unwrap()
                .render(&p, &caps),
            "app-8080"
        );
        assert!(Template::parse("{{nope}}")
            .unwrap_err()
            .contains("expected one of"));
        assert!(Template::parse("{{comm").is_err());
        assert_eq!(
            Template::parse("fixed").unwrap().fixed_name().as_deref(),
            Some("fixed")
        );
        assert_eq!(Template::parse("{{comm}}").unwrap().fixed_name(), None);
        assert!(Template::parse("{{.PID}}").unwrap().uses_pid());
        // Without arguments (kernel thread), exebase falls back to comm.
        assert_eq!(
            Template::parse("{{exebase}}")
                .unwrap()
                .render(&facts(2, "kthreadd", &[]), &none),
            "kthreadd"
        );
    }

    #[test]
    fn matchers_all_must_agree() {
        let dynamic = DynamicFacts::default();
        let g = group("{name: '{{comm}}', comm: [java], cmdline: ['-jar\\s+app']}").unwrap();
        assert_eq!(
            g.matches(0, &facts(1, "java", &["java", "-jar", "app.jar"]), &dynamic)
                .as_deref(),
            Some("java")
        );
        assert_eq!(
            g.matches(0, &facts(1, "java", &["java", "-cp", "x"]), &dynamic),
            None
        );
        assert_eq!(
            g.matches(0, &facts(1, "python", &["java", "-jar", "app"]), &dynamic),
            None
        );
    }

    #[test]
    fn exe_matcher_like_process_exporter() {
        let dynamic = DynamicFacts::default();
        let g = group("{exe: [nginx, /opt/bin/app]}").unwrap();
        assert_eq!(
            g.matches(0, &facts(1, "nginx", &["/usr/sbin/nginx", "-g"]), &dynamic)
                .as_deref(),
            Some("nginx")
        );
        assert_eq!(
            g.matches(0, &facts(1, "app", &["/opt/bin/app"]), &dynamic)
                .as_deref(),
            Some("app")
        );
        assert_eq!(
            g.matches(0, &facts(1, "app", &["/usr/bin/app"]), &dynamic),
            None
        );
        assert_eq!(g.matches(0, &facts(1, "nginx", &[]), &dynamic), None);
    }

    #[test]
    fn cmdline_captures_and_all_processes() {
        let dynamic = DynamicFacts::default();
        let g = group("{name: 'w-{{matches.n}}', cmdline: ['worker (?P<n>\\d+)']}").unwrap();
        assert_eq!(
            g.matches(0, &facts(1, "w", &["worker", "7"]), &dynamic)
                .as_deref(),
            Some("w-7")
        );
        let all = group("{name: '{{comm}}', cmdline: ['.+']}").unwrap();
        assert_eq!(all.matches(0, &facts(2, "kthreadd", &[]), &dynamic), None);
        assert!(group("{name: '{{matches.x}}', cmdline: ['a']}")
            .unwrap_err()
            .contains("capture group"));
        assert!(group("{cmdline: ['(']}")
            .unwrap_err()
            .contains("invalid cmdline regex"));
        assert!(group("{name: x}").unwrap_err().contains("no matcher"));
    }

    #[test]
    fn pid_pidfile_port_user() {
        let mut dynamic = DynamicFacts::default();
        let g = group("{name: app, pid: 7}").unwrap();
        assert!(g.matches(0, &facts(7, "a", &[]), &dynamic).is_some());
        assert!(g.matches(0, &facts(8, "a", &[]), &dynamic).is_none());

        let g = group("{name: app, pidfile: /run/app.pid}").unwrap();
        assert!(g.matches(0, &facts(7, "a", &[]), &dynamic).is_none());
        dynamic.pidfile_pids = vec![Some(7)];
        assert!(g.matches(0, &facts(7, "a", &[]), &dynamic).is_some());

        let g = group("{name: app, listening_port: 8080}").unwrap();
        assert!(g.matches(0, &facts(9, "a", &[]), &dynamic).is_none());
        dynamic.port_owners.insert(8080, HashSet::from([9]));
        assert!(g.matches(0, &facts(9, "a", &[]), &dynamic).is_some());

        let g = group("{name: app, user: www-data}").unwrap();
        let mut p = facts(1, "a", &[]);
        assert!(g.matches(0, &p, &dynamic).is_none());
        p.euid = 33;
        assert!(g.matches(0, &p, &dynamic).is_some());
        assert!(group("{name: app, user: '33'}")
            .unwrap()
            .matches(0, &p, &dynamic)
            .is_some());
        assert!(group("{name: app, user: nosuchuser}")
            .unwrap_err()
            .contains("numeric uid"));
        assert!(group("{name: app, listening_port: 0}").is_err());
    }

    #[test]
    fn pidfile_content() {
        assert_eq!(parse_pidfile("1234\n"), Some(1234));
        assert_eq!(parse_pidfile("  99  "), Some(99));
        assert_eq!(parse_pidfile("garbage"), None);
        assert_eq!(parse_pidfile(""), None);
    }
}
