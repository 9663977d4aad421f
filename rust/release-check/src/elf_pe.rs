//! Linux (ELF) and Windows (PE) libraries: stripped, with their debug file named, and needing
//! only what every machine of the platform has.

use object::{Architecture, BinaryFormat, Object, ObjectSection};

use crate::{check_common, Report};

/// Shared libraries every glibc system has; the Rust standard library links only these.
const LINUX_SYSTEM_LIBRARIES: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
];

/// Windows' own DLLs (and the API sets they forward to): anything else a player would lack.
const WINDOWS_SYSTEM_DLLS: &[&str] = &[
    "kernel32.dll",
    "ws2_32.dll",
    "bcrypt.dll",
    "bcryptprimitives.dll",
    "iphlpapi.dll",
    "userenv.dll",
    "advapi32.dll",
    "ntdll.dll",
    "msvcrt.dll",
    "oleaut32.dll",
    "ole32.dll",
    "secur32.dll",
    "crypt32.dll",
    "user32.dll",
    "shell32.dll",
    // The Kernel Transaction Manager (windows-registry's transacted keys), in System32 since Vista.
    "ktmw32.dll",
];

/// gdext defines this C library hook on Linux so that a reloaded library's thread-local
/// destructors cannot keep it loaded (godot-ffi's `linux_reload_workaround`).
const GDEXT_LINUX_EXPORTS: &[&str] = &["__cxa_thread_atexit_impl"];

pub(crate) fn check_elf(report: &mut Report, data: &[u8], arch: Architecture) {
    let Some(file) = parse(report, data, BinaryFormat::Elf) else {
        return;
    };
    check_common(report, &file, data.len(), arch, "", GDEXT_LINUX_EXPORTS);
    let needed = libraries(report, &file);
    let foreign: Vec<&String> = needed
        .iter()
        .filter(|name| {
            !LINUX_SYSTEM_LIBRARIES.contains(&name.as_str()) && !name.starts_with("ld-linux")
        })
        .collect();
    report.require(foreign.is_empty(), || {
        format!("needs libraries a player may not have: {foreign:?}")
    });
    report.require(file.section_by_name(".symtab").is_none(), || {
        "not stripped: it has a symbol table (.symtab)".to_owned()
    });
    check_debug_link(report, &file);
}

pub(crate) fn check_pe(report: &mut Report, data: &[u8], arch: Architecture) {
    let Some(file) = parse(report, data, BinaryFormat::Pe) else {
        return;
    };
    check_common(report, &file, data.len(), arch, "", &[]);
    let imported = libraries(report, &file);
    let foreign: Vec<&String> = imported
        .iter()
        .filter(|name| {
            let name = name.to_ascii_lowercase();
            !WINDOWS_SYSTEM_DLLS.contains(&name.as_str()) && !name.starts_with("api-ms-win-")
        })
        .collect();
    report.require(foreign.is_empty(), || {
        format!("imports DLLs a player may not have: {foreign:?}")
    });
    let symbols = file.symbols().count();
    report.require(symbols == 0, || {
        format!("not stripped: {symbols} COFF symbols")
    });
    check_debug_link(report, &file);
}

fn parse<'data>(
    report: &mut Report,
    data: &'data [u8],
    format: BinaryFormat,
) -> Option<object::File<'data>> {
    match object::File::parse(data) {
        Ok(file) if file.format() == format => Some(file),
        Ok(file) => {
            report.problem(format!("a {:?} file, expected {format:?}", file.format()));
            None
        }
        Err(err) => {
            report.problem(format!("not a library: {err}"));
            None
        }
    }
}

/// The libraries the file loads (ELF `DT_NEEDED`, PE imports), printed as a fact.
fn libraries(report: &mut Report, file: &object::File) -> Vec<String> {
    let names: Vec<String> = match file.import_libraries() {
        Ok(libraries) => libraries
            .filter_map(Result::ok)
            .map(|library| String::from_utf8_lossy(library.name()).into_owned())
            .collect(),
        Err(err) => {
            report.problem(format!("cannot read the libraries it needs: {err}"));
            Vec::new()
        }
    };
    report.fact(format!("needs {}", names.join(" ")));
    names
}

/// The debug information stripped off stays findable: the library names its debug file.
fn check_debug_link(report: &mut Report, file: &object::File) {
    let link = file
        .section_by_name(".gnu_debuglink")
        .and_then(|section| section.data().ok())
        .and_then(|data| data.split(|byte| *byte == 0).next())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .filter(|name| !name.is_empty());
    match link {
        Some(name) => report.fact(format!("debug file {name}")),
        None => report.problem("names no debug file (.gnu_debuglink)"),
    }
}
