//! The XLSX is a planning workbook: its Outputs formulas, evaluated from
//! the written file by a small evaluator of the subset flopprint writes
//! (cell references, `+ - * /`, parentheses, numbers), give flopprint's own
//! figures, and follow an edited input.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;
use std::io::Read;

/// One cell as stored.
#[derive(Debug, Clone)]
pub enum Cell {
    Num(f64),
    Str(String),
    Formula(String),
    Blank,
}

/// A workbook read back: sheet name → (cell ref → cell), sheets in order.
pub struct Book {
    pub sheets: Vec<String>,
    pub cells: HashMap<String, HashMap<String, Cell>>,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let i = s.find(open)?;
    let rest = &s[i + open.len()..];
    let rest = &rest[rest.find('>')? + 1..];
    Some(&rest[..rest.find(close)?])
}

fn attr<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let i = head.find(&key)? + key.len();
    Some(&head[i..i + head[i..].find('"')?])
}

fn read(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> String {
    let mut s = String::new();
    zip.by_name(name).unwrap_or_else(|_| panic!("{name} in the xlsx")).read_to_string(&mut s).unwrap();
    s
}

impl Book {
    pub fn open(bytes: Vec<u8>) -> Book {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let shared: Vec<String> = z
            .by_name("xl/sharedStrings.xml")
            .ok()
            .map(|mut f| {
                let mut s = String::new();
                f.read_to_string(&mut s).unwrap();
                s
            })
            .map(|s| {
                s.split("<si>")
                    .skip(1)
                    .map(|si| si.split("<t").skip(1).filter_map(|t| Some(unescape(&t[t.find('>')? + 1..t.find("</t>")?]))).collect())
                    .collect()
            })
            .unwrap_or_default();
        let wb = read(&mut z, "xl/workbook.xml");
        let sheets: Vec<String> = wb.split("<sheet ").skip(1).map(|s| unescape(attr(&format!(" {s}"), "name").unwrap())).collect();
        let mut cells = HashMap::new();
        for (k, name) in sheets.iter().enumerate() {
            let xml = read(&mut z, &format!("xl/worksheets/sheet{}.xml", k + 1));
            let mut m = HashMap::new();
            let mut rest = xml.as_str();
            while let Some(i) = rest.find("<c ") {
                rest = &rest[i..];
                let end = rest.find('>').unwrap();
                let head = &rest[..end];
                let r = attr(head, "r").unwrap().to_string();
                if head.ends_with('/') {
                    m.insert(r, Cell::Blank);
                    rest = &rest[end + 1..];
                    continue;
                }
                let close = rest.find("</c>").unwrap();
                let body = &rest[end + 1..close];
                let cell = if let Some(f) = between(body, "<f", "</f>") {
                    Cell::Formula(unescape(f))
                } else if attr(head, "t") == Some("s") {
                    Cell::Str(shared[between(body, "<v", "</v>").unwrap().parse::<usize>().unwrap()].clone())
                } else if let Some(t) = between(body, "<t", "</t>") {
                    Cell::Str(unescape(t))
                } else if let Some(v) = between(body, "<v", "</v>") {
                    Cell::Num(v.parse().unwrap())
                } else {
                    Cell::Blank
                };
                m.insert(r, cell);
                rest = &rest[close..];
            }
            cells.insert(name.clone(), m);
        }
        Book { sheets, cells }
    }

    pub fn get(&self, sheet: &str, r: &str) -> Option<&Cell> {
        self.cells[sheet].get(r)
    }

    pub fn text(&self, sheet: &str, r: &str) -> String {
        match self.get(sheet, r) {
            Some(Cell::Str(s)) => s.clone(),
            other => format!("{other:?}"),
        }
    }

    /// The value of a cell, evaluating formulas.
    pub fn eval(&self, sheet: &str, r: &str) -> f64 {
        match self.get(sheet, r) {
            None | Some(Cell::Blank) => 0.0,
            Some(Cell::Num(x)) => *x,
            Some(Cell::Str(s)) => panic!("{sheet}!{r} is text `{s}`, not a number"),
            Some(Cell::Formula(f)) => {
                let toks = tokens(f);
                let mut p = Parser { toks: &toks, i: 0, book: self, sheet };
                let v = p.expr();
                assert_eq!(p.i, toks.len(), "{sheet}!{r}: trailing tokens in `{f}`");
                v
            }
        }
    }

    /// Column letter of the header `name` (row 1) of `sheet`.
    pub fn column(&self, sheet: &str, name: &str) -> String {
        self.cells[sheet]
            .iter()
            .find(|(r, c)| r.ends_with('1') && r[..r.len() - 1].chars().all(|ch| ch.is_ascii_uppercase()) && matches!(c, Cell::Str(s) if s == name))
            .map_or_else(|| panic!("no header `{name}` in {sheet}"), |(r, _)| r[..r.len() - 1].to_string())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ref(Option<String>, String),
    Op(char),
}

fn tokens(f: &str) -> Vec<Tok> {
    let f = f.trim_start_matches('=');
    let b: Vec<char> = f.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if "+-*/()".contains(c) {
            out.push(Tok::Op(c));
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let j = (i..b.len()).find(|&j| !(b[j].is_ascii_digit() || b[j] == '.' || b[j] == 'E' || b[j] == 'e')).unwrap_or(b.len());
            out.push(Tok::Num(b[i..j].iter().collect::<String>().parse().unwrap()));
            i = j;
        } else if c.is_ascii_alphabetic() {
            let j = (i..b.len()).find(|&j| !(b[j].is_ascii_alphanumeric() || b[j] == '!' || b[j] == '$')).unwrap_or(b.len());
            let word: String = b[i..j].iter().filter(|&&c| c != '$').collect();
            match word.split_once('!') {
                Some((s, r)) => out.push(Tok::Ref(Some(s.to_string()), r.to_string())),
                None => out.push(Tok::Ref(None, word)),
            }
            i = j;
        } else {
            panic!("`{f}`: `{c}` is outside the formula subset flopprint writes");
        }
    }
    out
}

struct Parser<'a> {
    toks: &'a [Tok],
    i: usize,
    book: &'a Book,
    sheet: &'a str,
}

impl Parser<'_> {
    fn expr(&mut self) -> f64 {
        let mut v = self.term();
        while let Some(Tok::Op(o @ ('+' | '-'))) = self.toks.get(self.i) {
            self.i += 1;
            let r = self.term();
            v = if *o == '+' { v + r } else { v - r };
        }
        v
    }
    fn term(&mut self) -> f64 {
        let mut v = self.factor();
        while let Some(Tok::Op(o @ ('*' | '/'))) = self.toks.get(self.i) {
            self.i += 1;
            let r = self.factor();
            v = if *o == '*' { v * r } else { v / r };
        }
        v
    }
    fn factor(&mut self) -> f64 {
        let t = self.toks[self.i].clone();
        self.i += 1;
        match t {
            Tok::Num(x) => x,
            Tok::Op('-') => -self.factor(),
            Tok::Op('(') => {
                let v = self.expr();
                assert_eq!(self.toks.get(self.i), Some(&Tok::Op(')')));
                self.i += 1;
                v
            }
            Tok::Ref(s, r) => self.book.eval(s.as_deref().unwrap_or(self.sheet), &r),
            Tok::Op(o) => panic!("unexpected `{o}`"),
        }
    }
}

/// Outputs headers and the JSON fields they must equal.
pub const CHECKS: [(&str, &str); 11] = [
    ("wall time (h)", "wall_time_h"),
    ("wall time (days)", "wall_time_days"),
    ("GPU-hours (GPU-h)", "gpu_hours"),
    ("IT energy (kWh)", "energy_it_kwh"),
    ("facility energy (kWh)", "energy_facility_kwh"),
    ("operational CO2e (kgCO2e)", "co2e_operational_kg"),
    ("embodied CO2e (kgCO2e)", "co2e_embodied_kg"),
    ("total CO2e (kgCO2e)", "co2e_total_kg"),
    ("rental cost (USD)", "cost_rental_usd"),
    ("electricity cost (USD)", "electricity_cost_usd"),
    ("owned cost: capex + electricity (USD)", "cost_owned_usd"),
];

/// Asserts that row `row` (1-based, data from 2) of Outputs equals `e`.
pub fn assert_row_matches(book: &Book, row: usize, e: &Value) {
    for (header, field) in CHECKS {
        let col = book.column("Outputs", header);
        let want = e[field].as_f64().unwrap_or_else(|| panic!("{field} in the JSON"));
        let got = book.eval("Outputs", &format!("{col}{row}"));
        assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "Outputs!{col}{row} ({header}) = {got}, flopprint says {field} = {want}");
    }
}

const ARGS: [&str; 6] = ["estimate", "--mfu", "0.4", "--samples", "200", "--no-simulate"];

fn estimate_xlsx() -> (Book, Value) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("plan.xlsx");
    Command::cargo_bin("flopprint").unwrap().args(ARGS).args(["--format", "xlsx", "--out"]).arg(&f).assert().success();
    let out = Command::cargo_bin("flopprint").unwrap().args(ARGS).args(["--format", "json"]).output().unwrap();
    (Book::open(std::fs::read(&f).unwrap()), serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn formulas_evaluate_to_flopprints_figures() {
    let (book, e) = estimate_xlsx();
    assert_eq!(book.sheets, ["Inputs", "Outputs", "Sources", "Data"]);
    assert_row_matches(&book, 2, &e);
}

#[test]
fn editing_an_input_recalculates_the_outputs() {
    let (mut book, e) = estimate_xlsx();
    let pue = book.column("Inputs", "PUE (-)");
    let goodput = book.column("Inputs", "goodput factor (productive fraction of wall time, -)");
    let price = book.column("Inputs", "price per GPU-hour (USD/GPU-h)");
    let inputs = book.cells.get_mut("Inputs").unwrap();
    inputs.insert(format!("{pue}2"), Cell::Num(2.0 * e["pue"].as_f64().unwrap()));
    inputs.insert(format!("{goodput}2"), Cell::Num(0.8));
    inputs.insert(format!("{price}2"), Cell::Num(1.0));
    let get = |h: &str| book.eval("Outputs", &format!("{}2", book.column("Outputs", h)));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
    assert!(close(get("wall time (h)"), e["wall_time_h"].as_f64().unwrap() / 0.8));
    assert!(close(get("facility energy (kWh)"), 2.0 * e["energy_facility_kwh"].as_f64().unwrap() / 0.8));
    assert!(close(get("rental cost (USD)"), e["gpu_hours"].as_f64().unwrap() / 0.8));
}

#[test]
fn the_workbook_layout_is_the_committed_one() {
    let (book, _) = estimate_xlsx();
    let mut s = String::new();
    for sheet in ["Inputs", "Outputs"] {
        let mut cols: Vec<(String, String)> = book.cells[sheet]
            .iter()
            .filter(|(r, _)| r.ends_with('1') && r.len() <= 3 && r[..r.len() - 1].chars().all(|c| c.is_ascii_uppercase()))
            .map(|(r, _)| {
                let col = r[..r.len() - 1].to_string();
                let second = match book.get(sheet, &format!("{col}2")) {
                    Some(Cell::Formula(f)) => format!("= {f}"),
                    Some(Cell::Num(_)) => "number".into(),
                    Some(Cell::Str(_)) => "text".into(),
                    _ => "blank".into(),
                };
                (col, format!("{} | {second}", book.text(sheet, r)))
            })
            .collect();
        cols.sort_by_key(|(c, _)| (c.len(), c.clone()));
        for (c, line) in cols {
            let _ = writeln!(s, "{sheet}!{c}: {line}");
        }
    }
    let sources: Vec<String> = (2..200).map(|r| book.text("Sources", &format!("A{r}"))).filter(|t| !t.starts_with("None")).collect();
    let _ = writeln!(s, "Sources: {}", sources.join("; "));
    super::snap::check("estimate-xlsx-layout.txt", &s);
}
