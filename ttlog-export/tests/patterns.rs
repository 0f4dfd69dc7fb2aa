//! The built-in error patterns on errors they are not about: a corpus of 113 business and
//! domain errors (out of stock, validation, expired coupons, ...) that no pattern should
//! claim. Prints the false-positive rate (the figure of docs/incident-reports.md).

use ttlog_export::patterns::PatternLibrary;

#[test]
fn unrelated_errors_rarely_match_a_pattern() {
    let library = PatternLibrary::builtin();
    let corpus = include_str!("fixtures/unrelated_errors.txt");
    let lines: Vec<&str> = corpus.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 100);
    let mut claimed = Vec::new();
    for line in &lines {
        let found = library.match_message(line);
        if !found.is_empty() {
            claimed.push(format!(
                "{line:?} -> {:?}",
                found.iter().map(|p| &p.id).collect::<Vec<_>>()
            ));
        }
    }
    println!(
        "unrelated errors matched by a pattern: {}/{} ({:.1} %)",
        claimed.len(),
        lines.len(),
        100.0 * claimed.len() as f64 / lines.len() as f64
    );
    for line in &claimed {
        println!("  {line}");
    }
    assert!(claimed.len() <= 3, "{claimed:#?}");
}
