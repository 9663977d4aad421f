//! macOS: one universal file with an x86_64 and an arm64 slice, each a library that any Mac
//! since the engine's oldest supported release can load.

use std::collections::BTreeMap;

use object::endian::{BigEndian, Endianness};
use object::macho::{self, FatArch32};
use object::read::macho::{
    CodeDirectory, FatArch, LoadCommandVariant, MachHeader, MachOFatFile32, MachOFile64, Nlist,
};
use object::{Architecture, Object};

use crate::{check_common, Report};

/// Each slice and the newest minimum OS it may ask for (major, minor). Godot 4 runs on macOS
/// 10.13 on Intel; Apple silicon starts at 11.0.
const SLICES: &[(Architecture, (u16, u8))] = &[
    (Architecture::X86_64, (10, 13)),
    (Architecture::Aarch64, (11, 0)),
];

/// Where a Mac's own libraries live; anything else would have to ship beside the game.
const SYSTEM_PREFIXES: &[&str] = &["/usr/lib/", "/System/Library/"];

pub(crate) fn check_universal(report: &mut Report, data: &[u8]) {
    let fat = match MachOFatFile32::parse(data) {
        Ok(fat) => fat,
        Err(err) => {
            report.problem(format!("not a universal Mach-O file: {err}"));
            return;
        }
    };
    let arches: Vec<&FatArch32> = fat.arches().iter().collect();
    report.require(arches.len() == SLICES.len(), || {
        format!("{} slices, expected x86_64 and arm64", arches.len())
    });
    for (arch, newest) in SLICES {
        let Some(slice) = arches
            .iter()
            .find(|fat_arch| fat_arch.architecture() == *arch)
        else {
            report.problem(format!("no {arch:?} slice"));
            continue;
        };
        match slice.data(data) {
            Ok(bytes) => check_slice(report, bytes, *arch, *newest),
            Err(err) => report.problem(format!("{arch:?} slice unreadable: {err}")),
        }
    }
}

fn check_slice(report: &mut Report, data: &[u8], arch: Architecture, newest: (u16, u8)) {
    report.fact(format!("slice {arch:?}:"));
    let (file, macho) = match (
        object::File::parse(data),
        MachOFile64::<Endianness>::parse(data),
    ) {
        (Ok(file), Ok(macho)) => (file, macho),
        (Err(err), _) | (_, Err(err)) => {
            report.problem(format!("{arch:?} slice is not a 64-bit Mach-O file: {err}"));
            return;
        }
    };
    check_common(report, &file, data.len(), arch, "_", &[]);
    let endian = macho.endian();
    report.require(
        macho.macho_header().filetype(endian) == macho::MH_DYLIB,
        || "not a dynamic library (MH_DYLIB)".to_owned(),
    );

    let mut signature = None;
    let mut minimum_os = None;
    let mut install_name = None;
    let Ok(mut commands) = macho.macho_load_commands() else {
        report.problem("load commands unreadable");
        return;
    };
    while let Ok(Some(command)) = commands.next() {
        match command.variant() {
            Ok(LoadCommandVariant::IdDylib(dylib)) => {
                install_name = command
                    .string(endian, dylib.dylib.name)
                    .ok()
                    .map(|name| String::from_utf8_lossy(name).into_owned());
            }
            Ok(LoadCommandVariant::Dylib(dylib)) => {
                let path = command
                    .string(endian, dylib.dylib.name)
                    .map(|name| String::from_utf8_lossy(name).into_owned())
                    .unwrap_or_default();
                report.fact(format!("  links {path}"));
                report.require(
                    SYSTEM_PREFIXES
                        .iter()
                        .any(|prefix| path.starts_with(prefix)),
                    || format!("links {path}, which is not part of macOS"),
                );
            }
            Ok(LoadCommandVariant::LoadDylinker(_)) => {
                report.problem("has LC_LOAD_DYLINKER, which only executables carry");
            }
            Ok(LoadCommandVariant::BuildVersion(build, _)) => {
                report.require(build.platform.get(endian) == macho::PLATFORM_MACOS, || {
                    "built for another Apple platform than macOS".to_owned()
                });
                minimum_os = Some(build.minos.get(endian));
            }
            Ok(LoadCommandVariant::VersionMin(version)) => {
                report.require(
                    version.cmd.get(endian) == macho::LC_VERSION_MIN_MACOSX,
                    || "built for another Apple platform than macOS".to_owned(),
                );
                minimum_os = Some(version.version.get(endian));
            }
            Ok(LoadCommandVariant::LinkeditData(linkedit))
                if command.cmd() == macho::LC_CODE_SIGNATURE =>
            {
                signature = Some(linkedit);
            }
            _ => {}
        }
    }

    match minimum_os {
        Some(version) => {
            report.fact(format!(
                "  minimum macOS {}.{}",
                version.major(),
                version.minor()
            ));
            report.require((version.major(), version.minor()) <= newest, || {
                format!(
                    "asks for macOS {}.{}, newer than {}.{}",
                    version.major(),
                    version.minor(),
                    newest.0,
                    newest.1
                )
            });
        }
        None => report.problem("names no minimum macOS version"),
    }
    match install_name {
        Some(name) => {
            report.fact(format!("  install name {name}"));
            report.require(name.starts_with("@rpath/"), || {
                format!("install name {name} is not @rpath/...")
            });
        }
        None => report.problem("has no install name (LC_ID_DYLIB)"),
    }

    let symbols = macho.macho_symbol_table();
    let stabs = symbols
        .iter()
        .filter(|nlist| nlist.n_type().is_stab())
        .count();
    let locals = symbols
        .iter()
        .filter(|nlist| !nlist.n_type().is_stab() && !nlist.n_type().is_ext())
        .count();
    report.require(stabs == 0 && locals == 0, || {
        format!("not stripped: {locals} local symbols, {stabs} debug map entries")
    });

    report_framework_imports(report, &file);

    match signature {
        Some(linkedit) => match linkedit.code_signature(endian, data) {
            Ok(signature) => {
                let directory = signature
                    .blobs()
                    .filter_map(Result::ok)
                    .find_map(|blob| blob.code_directory().ok().flatten());
                match directory {
                    Some(directory) => verify_ad_hoc(
                        report,
                        data,
                        &directory,
                        u64::from(linkedit.dataoff.get(endian)),
                    ),
                    None => report.problem("code signature without a code directory"),
                }
            }
            Err(err) => report.problem(format!("code signature unreadable: {err}")),
        },
        // arm64 macOS refuses to run unsigned code; x86_64 runs it.
        None if arch == Architecture::Aarch64 => report.problem("arm64 slice is not signed"),
        None => report.fact("  not signed (x86_64 runs unsigned code)"),
    }
}

/// Lists, per framework, the symbols the slice takes from it: the stubs the build links
/// against must declare exactly real symbols of those frameworks.
fn report_framework_imports(report: &mut Report, file: &object::File) {
    let mut frameworks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for import in file.imports().into_iter().flatten().filter_map(Result::ok) {
        let library = String::from_utf8_lossy(import.library());
        let Some(framework) = library
            .strip_prefix("/System/Library/Frameworks/")
            .and_then(|rest| rest.split('/').next())
        else {
            continue;
        };
        if let object::NameOrOrdinal::Name(name) = import.name() {
            frameworks
                .entry(framework.trim_end_matches(".framework").to_owned())
                .or_default()
                .push(String::from_utf8_lossy(name).into_owned());
        }
    }
    for (framework, mut symbols) in frameworks {
        symbols.sort();
        report.fact(format!("  uses {framework}: {}", symbols.join(" ")));
    }
}

/// Checks an ad-hoc signature the way the kernel checks each page as it maps it: the code
/// directory holds the SHA-256 of every page up to the signature, and each must match.
fn verify_ad_hoc(report: &mut Report, data: &[u8], directory: &CodeDirectory, signature_at: u64) {
    let header = directory.header();
    let flags = header.flags.get(BigEndian);
    report.require(flags.contains(macho::CS_ADHOC), || {
        "signature is not ad hoc".to_owned()
    });
    if header.hash_type != macho::CS_HASHTYPE_SHA256 || header.page_size == 0 {
        report.problem("signature hashes are not SHA-256 over pages");
        return;
    }
    let limit = directory.code_limit();
    report.require(limit == signature_at, || {
        format!("signature covers {limit} bytes, but the code runs to {signature_at}")
    });
    let page = 1usize << header.page_size;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX).min(data.len());
    let pages = header.n_code_slots.get(BigEndian);
    report.require(pages as usize == limit.div_ceil(page), || {
        format!("signature has {pages} page hashes for {limit} bytes")
    });
    let mut bad = 0;
    for index in 0..pages {
        let start = (index as usize).saturating_mul(page).min(limit);
        let end = start.saturating_add(page).min(limit);
        let digest = ring::digest::digest(&ring::digest::SHA256, &data[start..end]);
        if directory.code_hash(index).ok() != Some(digest.as_ref()) {
            bad += 1;
        }
    }
    if bad == 0 {
        report.fact(format!(
            "  ad-hoc signature valid: {pages} pages of {page} bytes"
        ));
    } else {
        report.problem(format!(
            "signature invalid: {bad} of {pages} pages do not match"
        ));
    }
}
