//! Figures: one value per run in, one summary per figure out (median, min, max, pass), as JSON
//! lines, the results file and the Markdown table (pure).

use serde::Serialize;
use serde_json::json;

use crate::stats;
use crate::targets::{Target, trim};

/// One measurement of one figure in one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunFigure {
    pub name: String,
    pub unit: &'static str,
    pub run: usize,
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

/// A figure over its runs. `pass` judges the median.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub name: String,
    pub unit: &'static str,
    pub runs: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub target: Option<Target>,
    pub pass: Option<bool>,
}

/// Groups run figures by name, in the order the names first appear.
pub fn summarize(figures: &[RunFigure]) -> Vec<Summary> {
    let mut names: Vec<&str> = Vec::new();
    for f in figures {
        if !names.contains(&f.name.as_str()) {
            names.push(&f.name);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let runs: Vec<&RunFigure> = figures.iter().filter(|f| f.name == name).collect();
            let values: Vec<f64> = runs.iter().map(|f| f.value).collect();
            let median = stats::median(&values)?;
            let target = runs.iter().find_map(|f| f.target);
            Some(Summary {
                name: name.to_owned(),
                unit: runs[0].unit,
                runs: values.len(),
                median,
                min: stats::min(&values)?,
                max: stats::max(&values)?,
                target,
                pass: target.map(|t| t.met_by(median)),
            })
        })
        .collect()
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The summary as a JSON object: `value` is the median.
pub fn to_json(s: &Summary) -> serde_json::Value {
    json!({
        "name": s.name,
        "value": round(s.median),
        "unit": s.unit,
        "runs": s.runs,
        "median": round(s.median),
        "min": round(s.min),
        "max": round(s.max),
        "target": s.target.map(|t| t.describe()),
        "pass": s.pass,
    })
}

/// What the results file and the table say about the run as a whole.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Meta {
    pub started: String,
    pub commit: String,
    pub runs: usize,
    pub scale: f64,
    pub scenarios: Vec<String>,
    pub cpus: usize,
    /// The object counts at this scale.
    pub counts: String,
    pub notes: Vec<String>,
}

/// bench/results/<timestamp>.json: the figures only (small enough to keep every run's).
pub fn results_json(meta: &Meta, summaries: &[Summary]) -> serde_json::Value {
    json!({
        "started": meta.started,
        "commit": meta.commit,
        "runs": meta.runs,
        "scale": meta.scale,
        "cpus": meta.cpus,
        "counts": meta.counts,
        "scenarios": meta.scenarios,
        "notes": meta.notes,
        "figures": summaries.iter().map(to_json).collect::<Vec<_>>(),
    })
}

/// bench/results/latest.md: one row per figure against its target.
pub fn markdown(meta: &Meta, summaries: &[Summary]) -> String {
    let mut out = format!(
        "# certsmith benchmark results\n\n{} · commit `{}` · {} run(s) per scenario · scale {} ({}) · {} CPUs · scenarios: {}\n\n",
        meta.started,
        meta.commit,
        meta.runs,
        trim(meta.scale),
        meta.counts,
        meta.cpus,
        meta.scenarios.join(", "),
    );
    out.push_str("| figure | target | median | min | max | unit | runs | result |\n");
    out.push_str("|---|---|---:|---:|---:|---|---:|---|\n");
    for s in summaries {
        let result = match s.pass {
            Some(true) => "pass",
            Some(false) => "**FAIL**",
            None => "",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.name,
            s.target.map(|t| t.describe()).unwrap_or_default(),
            trim(round(s.median)),
            trim(round(s.min)),
            trim(round(s.max)),
            s.unit,
            s.runs,
            result
        ));
    }
    if !meta.notes.is_empty() {
        out.push_str("\nNotes:\n\n");
        for n in &meta.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out.push_str("\n![throughput and memory](latest.png)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Target;

    fn fig(name: &str, run: usize, value: f64, target: Option<Target>) -> RunFigure {
        RunFigure {
            name: name.into(),
            unit: "s",
            run,
            value,
            target,
        }
    }

    #[test]
    fn summaries_take_the_median_of_each_figure_in_first_seen_order() {
        let t = Some(Target::at_most(30.0));
        let figures = [
            fig("b", 1, 40.0, t),
            fig("a", 1, 1.0, None),
            fig("b", 2, 20.0, t),
            fig("b", 3, 25.0, t),
        ];
        let got = summarize(&figures);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (
                got[0].name.as_str(),
                got[0].runs,
                got[0].median,
                got[0].min,
                got[0].max
            ),
            ("b", 3, 25.0, 20.0, 40.0)
        );
        assert_eq!(got[0].pass, Some(true));
        assert_eq!((got[1].name.as_str(), got[1].pass), ("a", None));

        let line = to_json(&got[0]);
        assert_eq!(line["value"], 25.0);
        assert_eq!(line["target"], "<= 30");
        assert_eq!(line["pass"], true);
        assert_eq!(to_json(&got[1])["target"], serde_json::Value::Null);

        let md = markdown(&Meta::default(), &got);
        assert!(
            md.contains("| b | <= 30 | 25 | 20 | 40 | s | 3 | pass |"),
            "{md}"
        );
        assert!(md.contains("| a |  | 1 | 1 | 1 | s | 1 |  |"), "{md}");
    }

    #[test]
    fn a_missed_target_fails_on_the_median() {
        let t = Some(Target::at_least(33.0));
        let got = summarize(&[
            fig("rate", 1, 40.0, t),
            fig("rate", 2, 9.0, t),
            fig("rate", 3, 10.0, t),
        ]);
        assert_eq!(got[0].pass, Some(false));
        assert!(markdown(&Meta::default(), &got).contains("**FAIL**"));
    }
}
