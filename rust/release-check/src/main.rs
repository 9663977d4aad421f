//! `release-check PLATFORM FILE`: checks one library of a release package against what its
//! Godot platform needs, and prints what it found.
//!
//! A user's engine loads the library through `gdext_rust_init` and nothing else; a player's
//! machine has only its system's own libraries; a package ships without symbols and debug
//! information (kept beside it), and each library is at most 12 MB. macOS adds its own rules:
//! both architectures in one file, a minimum OS no newer than the engine's, an `@rpath` install
//! name, no dynamic linker command in a library, and a valid ad-hoc signature on arm64 (which
//! will not load an unsigned page). Every binary is read with the `object` crate, so the three
//! formats are parsed by one well-kept reader rather than by hand.
//!
//! Prints one line per fact (`arch`, `exports`, `needs`, ...) and one `problem:` line per rule
//! broken; exits 1 when there is a problem, 2 on bad usage.

mod elf_pe;
mod macho;

use std::collections::BTreeSet;
use std::process::ExitCode;

use object::{Architecture, BinaryFormat, Object, ObjectSymbol};

/// The largest library a package may hold (per architecture in a universal file).
const SIZE_LIMIT: usize = 12 * 1024 * 1024;

/// The one symbol the engine looks up (`entry_symbol` in the manifest).
const ENTRY_SYMBOL: &str = "gdext_rust_init";

/// What a platform's library must look like.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Platform {
    Linux(Architecture),
    Windows(Architecture),
    MacosUniversal,
}

impl Platform {
    /// The platform named as in the manifest (`linux.x86_64`, `windows.x86_32`, `macos`).
    fn parse(name: &str) -> Option<Self> {
        let arch = |tag: &str| match tag {
            "x86_64" => Some(Architecture::X86_64),
            "x86_32" => Some(Architecture::I386),
            "arm64" => Some(Architecture::Aarch64),
            "arm32" => Some(Architecture::Arm),
            _ => None,
        };
        match name.split_once('.') {
            Some(("linux", tag)) => arch(tag).map(Platform::Linux),
            Some(("windows", tag)) => arch(tag)
                .filter(|a| *a != Architecture::Arm)
                .map(Platform::Windows),
            None if name == "macos" => Some(Platform::MacosUniversal),
            _ => None,
        }
    }
}

/// Facts and problems found in one library.
#[derive(Default)]
pub(crate) struct Report {
    lines: Vec<String>,
    problems: usize,
}

impl Report {
    pub(crate) fn fact(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    pub(crate) fn problem(&mut self, line: impl Into<String>) {
        self.problems += 1;
        self.lines.push(format!("problem: {}", line.into()));
    }

    /// Records a check: a problem named by `what` unless `ok`.
    pub(crate) fn require(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.problem(what());
        }
    }
}

/// Checks what every format shares: the architecture, the size, and that the library
/// exports the entry symbol and nothing but `also_exported`. `prefix` is the format's symbol
/// prefix (`_` on Mach-O).
pub(crate) fn check_common(
    report: &mut Report,
    file: &object::File,
    size: usize,
    arch: Architecture,
    prefix: &str,
    also_exported: &[&str],
) {
    report.fact(format!(
        "arch {:?}, {:.1} MB",
        file.architecture(),
        mb(size)
    ));
    report.require(file.architecture() == arch, || {
        format!("architecture {:?}, expected {arch:?}", file.architecture())
    });
    report.require(size <= SIZE_LIMIT, || {
        format!("{:.1} MB, over the 12 MB limit", mb(size))
    });
    let Some(exports) = exported_names(report, file) else {
        return;
    };
    report.fact(format!(
        "exports {}",
        exports.iter().cloned().collect::<Vec<_>>().join(" ")
    ));
    let expected = format!("{prefix}{ENTRY_SYMBOL}");
    report.require(exports.contains(&expected), || {
        format!("does not export {expected}")
    });
    let unexpected: Vec<&String> = exports
        .iter()
        .filter(|name| **name != expected && !also_exported.contains(&name.as_str()))
        .collect();
    report.require(unexpected.is_empty(), || {
        format!("exports more than {expected}: {} others", unexpected.len())
    });
    report.require(!file.has_debug_symbols(), || {
        "not stripped: it carries DWARF debug sections".to_owned()
    });
}

/// The names the library exports: for ELF its defined global dynamic symbols (`exports()`
/// also lists weak references the C library may fill in), for PE and Mach-O its export table.
fn exported_names(report: &mut Report, file: &object::File) -> Option<BTreeSet<String>> {
    if file.format() == BinaryFormat::Elf {
        return Some(
            file.dynamic_symbols()
                .filter(|symbol| symbol.is_definition() && symbol.is_global())
                .filter_map(|symbol| symbol.name().ok().map(str::to_owned))
                .collect(),
        );
    }
    match file.exports() {
        Ok(exports) => Some(
            exports
                .filter_map(Result::ok)
                .filter_map(|export| match export.name() {
                    object::NameOrOrdinal::Name(name) => Some(String::from_utf8_lossy(name).into()),
                    object::NameOrOrdinal::Ordinal(_) => None,
                })
                .collect(),
        ),
        Err(err) => {
            report.problem(format!("cannot read the exports: {err}"));
            None
        }
    }
}

fn mb(size: usize) -> f64 {
    size as f64 / (1024.0 * 1024.0)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [platform, path] = args.as_slice() else {
        eprintln!("usage: release-check PLATFORM FILE (PLATFORM: linux.x86_64, windows.x86_32, macos, ...)");
        return ExitCode::from(2);
    };
    let Some(platform) = Platform::parse(platform) else {
        eprintln!("release-check: unknown platform {platform}");
        return ExitCode::from(2);
    };
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(err) => {
            eprintln!("release-check: cannot read {path}: {err}");
            return ExitCode::from(2);
        }
    };
    let mut report = Report::default();
    match platform {
        Platform::Linux(arch) => elf_pe::check_elf(&mut report, &data, arch),
        Platform::Windows(arch) => elf_pe::check_pe(&mut report, &data, arch),
        Platform::MacosUniversal => macho::check_universal(&mut report, &data),
    }
    for line in &report.lines {
        println!("{line}");
    }
    if report.problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_are_named_as_in_the_manifest() {
        assert!(matches!(
            Platform::parse("linux.arm32"),
            Some(Platform::Linux(Architecture::Arm))
        ));
        assert!(matches!(
            Platform::parse("windows.x86_32"),
            Some(Platform::Windows(Architecture::I386))
        ));
        assert!(matches!(
            Platform::parse("macos"),
            Some(Platform::MacosUniversal)
        ));
        assert!(Platform::parse("windows.arm32").is_none());
        assert!(Platform::parse("android.arm64").is_none());
    }

    #[test]
    fn a_file_that_is_no_library_is_a_problem() {
        let mut report = Report::default();
        elf_pe::check_elf(&mut report, b"not an ELF file", Architecture::X86_64);
        assert_eq!(report.problems, 1, "{:?}", report.lines);
    }
}
