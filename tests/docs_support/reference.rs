//! The Certificate field reference in docs/certificate-reference.md, generated from the CRD
//! under crds/ (whose descriptions come from the doc comments in src/api), so it cannot drift
//! from what the apiserver enforces.

use serde_json::Value;

/// Marks around the generated part of the page.
pub const BEGIN: &str = "<!-- BEGIN GENERATED: tests/docs.rs from crds/cert-manager.io_certificates.yaml; do not edit -->";
pub const END: &str = "<!-- END GENERATED -->";

/// The Markdown table of every field under `spec` of a CRD's v1 schema.
pub fn spec_table(crd: &Value) -> String {
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let mut out = String::from(
        "| field | type | required | description | constraints |\n|---|---|---|---|---|\n",
    );
    walk(spec, "", &mut out);
    out
}

fn walk(schema: &Value, prefix: &str, out: &mut String) {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    for (name, prop) in props {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        out.push_str(&format!(
            "| `{path}` | {} | {} | {} | {} |\n",
            type_of(prop),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                ""
            },
            cell(prop["description"].as_str().unwrap_or("")),
            cell(&constraints(prop)),
        ));
        if prop["type"] == "array" {
            walk(&prop["items"], &format!("{path}[]"), out);
        } else {
            walk(prop, &path, out);
        }
    }
}

fn type_of(prop: &Value) -> String {
    match prop["type"].as_str().unwrap_or("any") {
        "array" => format!("list of {}", type_of(&prop["items"])),
        "object"
            if prop.get("properties").is_none() && prop.get("additionalProperties").is_some() =>
        {
            format!("map of {}", type_of(&prop["additionalProperties"]))
        }
        "string" => match prop["format"].as_str() {
            Some(f) => format!("string ({f})"),
            None => "string".into(),
        },
        other => other.into(),
    }
}

fn constraints(prop: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(d) = prop.get("default") {
        parts.push(format!("default `{d}`"));
    }
    if let Some(values) = prop["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or("")))
            .collect();
        parts.push(format!("one of {}", values.join(", ")));
    }
    let bounds = [
        ("minLength", "min length {}"),
        ("maxLength", "max length {}"),
        ("minimum", "at least {}"),
        ("maximum", "at most {}"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
    ];
    for (key, words) in bounds {
        if let Some(v) = prop.get(key) {
            parts.push(words.replace("{}", &v.to_string()));
        }
    }
    for rule in prop["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(m) = rule["message"].as_str() {
            parts.push(m.to_owned());
        }
    }
    if prop["type"] == "array" && prop["items"].get("properties").is_none() {
        let each = constraints(&prop["items"]);
        if !each.is_empty() {
            parts.push(format!("each: {each}"));
        }
    }
    parts.join("; ")
}

/// One table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// `page` with the text between [`BEGIN`] and [`END`] replaced by `generated`.
pub fn splice(page: &str, generated: &str) -> Result<String, String> {
    let start = page
        .find(BEGIN)
        .ok_or("the BEGIN GENERATED mark is missing")?
        + BEGIN.len();
    let end = page[start..]
        .find(END)
        .ok_or("the END GENERATED mark is missing")?
        + start;
    Ok(format!("{}\n{}{}", &page[..start], generated, &page[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_rows() {
        let crd = json!({"spec": {"versions": [{"schema": {"openAPIV3Schema": {"properties": {"spec": {
        "required": ["secretName"],
        "properties": {
            "secretName": {"type": "string", "description": "Where | it goes.", "maxLength": 253},
            "usages": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            "otherNames": {"type": "array", "items": {"type": "object", "properties": {
                "oid": {"type": "string", "x-kubernetes-validations": [{"rule": "x", "message": "a dotted OID"}]}}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}
        }}}}}}]}});
        let table = spec_table(&crd);
        assert!(
            table.contains("| `secretName` | string | yes | Where \\| it goes. | max length 253 |"),
            "{table}"
        );
        assert!(table.contains("| `usages` | list of string |"), "{table}");
        assert!(
            table.contains("| `otherNames[].oid` | string |  |  | a dotted OID |"),
            "{table}"
        );
        assert!(table.contains("| `labels` | map of string |"), "{table}");
        let page = format!("a\n{BEGIN}\nold\n{END}\nb\n");
        assert_eq!(
            splice(&page, "new\n").unwrap(),
            format!("a\n{BEGIN}\nnew\n{END}\nb\n")
        );
    }
}
