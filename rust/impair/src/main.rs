//! `udp-impair`: the relay as a process, for tests that cannot link Rust (the Godot scenes).
//!
//! Prints `READY <endpoint_for_a> <endpoint_for_b>` once bound, then reads commands on stdin:
//! `silent`, `resume`, `stats`, `quit`. End of input also quits, so the relay dies with the
//! process that started it. Final counts are printed as a `STATS` line.

use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use udp_impair::{Impairment, Relay};

const USAGE: &str = "usage: udp-impair [--bind IP] [--loss FRACTION] [--delay MS] [--jitter MS] \
[--burst SHORTEST-LONGEST] [--reorder FRACTION] [--duplicate FRACTION] [--rate BYTES_PER_S] [--seed N] [--silent]";

fn parse(args: &[String]) -> Result<(IpAddr, Impairment, u64), String> {
    let mut ip: IpAddr = [127, 0, 0, 1].into();
    let mut imp = Impairment::default();
    let mut seed = 1;
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        if flag == "--silent" {
            imp.silent = true;
            continue;
        }
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: '{value}' is not a valid number");
        let number = |v: &str| -> Result<u64, String> { v.parse().map_err(|_| bad()) };
        let fraction = |v: &str| -> Result<f64, String> {
            let f: f64 = v.parse().map_err(|_| bad())?;
            if (0.0..=1.0).contains(&f) {
                Ok(f)
            } else {
                Err(format!("{flag} must be between 0 and 1"))
            }
        };
        match flag.as_str() {
            "--bind" => {
                ip = value
                    .parse()
                    .map_err(|_| format!("--bind: '{value}' is not an IP"))?
            }
            "--loss" => imp.loss = fraction(value)?,
            "--burst" => {
                let range = value
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                    .filter(|&(a, b): &(u32, u32)| a >= 1 && a <= b);
                imp.burst = Some(range.ok_or_else(|| {
                    format!("--burst: '{value}' is not SHORTEST-LONGEST, as in 2-5")
                })?);
            }
            "--reorder" => imp.reorder = fraction(value)?,
            "--duplicate" => imp.duplicate = fraction(value)?,
            "--delay" => imp.delay = Duration::from_millis(number(value)?),
            "--jitter" => imp.jitter = Duration::from_millis(number(value)?),
            "--rate" => imp.rate = Some(number(value)?),
            "--seed" => seed = number(value)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok((ip, imp, seed))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ip, impairment, seed) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(why) => {
            eprintln!("udp-impair: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let relay = match Relay::start(ip, impairment, seed) {
        Ok(relay) => relay,
        Err(err) => {
            eprintln!("udp-impair: cannot bind on {ip}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let (Ok(for_a), Ok(for_b)) = (relay.endpoint_for_a(), relay.endpoint_for_b()) else {
        eprintln!("udp-impair: sockets have no local address");
        return ExitCode::FAILURE;
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "READY {for_a} {for_b}");
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "silent" => relay.set_silent(true),
            "resume" => relay.set_silent(false),
            "stats" => {}
            "quit" => break,
            "" => continue,
            other => {
                eprintln!("udp-impair: unknown command '{other}'");
                continue;
            }
        }
        let _ = writeln!(out, "STATS {}", relay.stats());
        let _ = out.flush();
    }
    let _ = writeln!(out, "STATS {}", relay.stats());
    ExitCode::SUCCESS
}
