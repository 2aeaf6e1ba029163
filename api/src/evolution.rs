//! The schema-evolution policy, as a check: what a schema change does to clients already in
//! people's hands, which keep sending the operations they were built with for months.
//!
//! [`breaking_changes`] compares a baseline SDL (what clients were given: the committed
//! `schema.graphql`) with a candidate (what the server now exports) and lists every change that
//! would break such a client, in words:
//! - a type, field, argument, input field or enum value disappears without having been marked
//!   `@deprecated` in the baseline (deprecate first, in one release; remove in a later one);
//! - a type changes kind, or an object stops implementing an interface, or a union loses a member;
//! - an output field's type gets looser (non-null → nullable, or a different type): clients
//!   rely on what they were promised. Stricter (nullable → non-null) is fine;
//! - an argument or input field's type gets stricter (nullable → non-null, or a different type),
//!   or a new one is required (non-null without a default): old operations do not send it.
//!   Looser is fine.
//!
//! Additions are never breaking: new types, fields, optional arguments, enum values and union
//! members. Clients must treat an enum value or union member they do not know as "something
//! else" (Apollo and Relay codegen do: `__UNKNOWN`, `%future added value`).
//!
//! Directives the server defines are not compared (clients do not send them).

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::parser::types::{
    BaseType, ConstDirective, FieldDefinition, InputValueDefinition, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::parser::{Positioned, parse_schema};

/// Every change from `baseline` to `candidate` that breaks a client built against `baseline`,
/// sorted, one sentence each; empty when the change is safe. An SDL that does not parse is an
/// error naming which one.
pub fn breaking_changes(baseline: &str, candidate: &str) -> Result<Vec<String>, String> {
    let old = Types::parse(baseline).map_err(|e| format!("the baseline schema does not parse: {e}"))?;
    let new = Types::parse(candidate).map_err(|e| format!("the candidate schema does not parse: {e}"))?;
    let mut out = BTreeSet::new();
    for (name, before) in &old.0 {
        let Some(after) = new.0.get(name) else {
            if !wound_down(before) {
                out.insert(format!(
                    "type {name} was removed, but not all of its fields or values were deprecated first"
                ));
            }
            continue;
        };
        compare(name, before, after, &mut out);
    }
    Ok(out.into_iter().collect())
}

/// The named types of one schema.
struct Types(BTreeMap<String, TypeKind>);

impl Types {
    fn parse(sdl: &str) -> Result<Types, String> {
        let doc = parse_schema(sdl).map_err(|e| e.to_string())?;
        let mut types = BTreeMap::new();
        for def in doc.definitions {
            if let TypeSystemDefinition::Type(t) = def {
                let t = t.node;
                types.insert(t.name.node.to_string(), t.kind);
            }
        }
        Ok(Types(types))
    }
}

/// Whether every field or value of a type was deprecated (it had been announced as going away).
fn wound_down(kind: &TypeKind) -> bool {
    match kind {
        TypeKind::Object(o) => o.fields.iter().all(|f| deprecated(&f.node.directives)),
        TypeKind::Interface(i) => i.fields.iter().all(|f| deprecated(&f.node.directives)),
        TypeKind::Enum(e) => e.values.iter().all(|v| deprecated(&v.node.directives)),
        TypeKind::InputObject(i) => i.fields.iter().all(|f| deprecated(&f.node.directives)),
        TypeKind::Scalar | TypeKind::Union(_) => false,
    }
}

fn deprecated(directives: &[Positioned<ConstDirective>]) -> bool {
    directives.iter().any(|d| d.node.name.node == "deprecated")
}

fn kind_name(k: &TypeKind) -> &'static str {
    match k {
        TypeKind::Scalar => "scalar",
        TypeKind::Object(_) => "object",
        TypeKind::Interface(_) => "interface",
        TypeKind::Union(_) => "union",
        TypeKind::Enum(_) => "enum",
        TypeKind::InputObject(_) => "input",
    }
}

fn compare(name: &str, before: &TypeKind, after: &TypeKind, out: &mut BTreeSet<String>) {
    match (before, after) {
        (TypeKind::Scalar, TypeKind::Scalar) => {}
        (TypeKind::Object(b), TypeKind::Object(a)) => {
            implements(name, &b.implements, &a.implements, out);
            fields(name, &b.fields, &a.fields, out);
        }
        (TypeKind::Interface(b), TypeKind::Interface(a)) => {
            implements(name, &b.implements, &a.implements, out);
            fields(name, &b.fields, &a.fields, out);
        }
        (TypeKind::Union(b), TypeKind::Union(a)) => {
            let now: BTreeSet<&str> = a.members.iter().map(|m| m.node.as_str()).collect();
            for m in &b.members {
                if !now.contains(m.node.as_str()) {
                    out.insert(format!("union {name} lost its member {}", m.node));
                }
            }
        }
        (TypeKind::Enum(b), TypeKind::Enum(a)) => {
            let now: BTreeSet<&str> = a.values.iter().map(|v| v.node.value.node.as_str()).collect();
            for v in &b.values {
                let value = v.node.value.node.as_str();
                if !now.contains(value) && !deprecated(&v.node.directives) {
                    out.insert(format!("enum value {name}.{value} was removed without being deprecated first"));
                }
            }
        }
        (TypeKind::InputObject(b), TypeKind::InputObject(a)) => {
            inputs(&format!("input field {name}"), &b.fields, &a.fields, out);
        }
        (b, a) => {
            out.insert(format!("type {name} changed from {} to {}", kind_name(b), kind_name(a)));
        }
    }
}

fn implements(
    name: &str,
    before: &[Positioned<async_graphql::Name>],
    after: &[Positioned<async_graphql::Name>],
    out: &mut BTreeSet<String>,
) {
    let now: BTreeSet<&str> = after.iter().map(|i| i.node.as_str()).collect();
    for i in before {
        if !now.contains(i.node.as_str()) {
            out.insert(format!("type {name} no longer implements {}", i.node));
        }
    }
}

fn fields(
    owner: &str,
    before: &[Positioned<FieldDefinition>],
    after: &[Positioned<FieldDefinition>],
    out: &mut BTreeSet<String>,
) {
    let now: BTreeMap<&str, &FieldDefinition> = after.iter().map(|f| (f.node.name.node.as_str(), &f.node)).collect();
    for f in before {
        let f = &f.node;
        let field = f.name.node.as_str();
        let Some(g) = now.get(field) else {
            if !deprecated(&f.directives) {
                out.insert(format!("field {owner}.{field} was removed without being deprecated first"));
            }
            continue;
        };
        if !output_compatible(&f.ty.node, &g.ty.node) {
            out.insert(format!(
                "field {owner}.{field} changed type from {} to {}, which clients were not promised",
                f.ty.node, g.ty.node
            ));
        }
        inputs(&format!("argument {owner}.{field}"), &f.arguments, &g.arguments, out);
    }
}

/// Arguments or input fields (`what` names their owner in messages).
fn inputs(
    what: &str,
    before: &[Positioned<InputValueDefinition>],
    after: &[Positioned<InputValueDefinition>],
    out: &mut BTreeSet<String>,
) {
    let then: BTreeMap<&str, &InputValueDefinition> =
        before.iter().map(|v| (v.node.name.node.as_str(), &v.node)).collect();
    let now: BTreeMap<&str, &InputValueDefinition> =
        after.iter().map(|v| (v.node.name.node.as_str(), &v.node)).collect();
    for (name, old) in &then {
        match now.get(name) {
            None if !deprecated(&old.directives) => {
                out.insert(format!("{what}({name}) was removed without being deprecated first"));
            }
            None => {}
            Some(new) if !input_compatible(&old.ty.node, &new.ty.node, new.default_value.is_some()) => {
                out.insert(format!(
                    "{what}({name}) changed type from {} to {}, which operations already written do not send",
                    old.ty.node, new.ty.node
                ));
            }
            Some(_) => {}
        }
    }
    for (name, new) in &now {
        if !then.contains_key(name) && !new.ty.node.nullable && new.default_value.is_none() {
            out.insert(format!(
                "{what}({name}) is new and required ({}), so operations already written lack it",
                new.ty.node
            ));
        }
    }
}

/// An output may become stricter (nullable → non-null), never looser or different.
fn output_compatible(old: &Type, new: &Type) -> bool {
    if !old.nullable && new.nullable {
        return false;
    }
    match (&old.base, &new.base) {
        (BaseType::Named(a), BaseType::Named(b)) => a == b,
        (BaseType::List(a), BaseType::List(b)) => output_compatible(a, b),
        _ => false,
    }
}

/// An input may become looser (non-null → nullable), never stricter (unless a default now
/// fills it) or different.
fn input_compatible(old: &Type, new: &Type, has_default: bool) -> bool {
    if old.nullable && !new.nullable && !has_default {
        return false;
    }
    match (&old.base, &new.base) {
        (BaseType::Named(a), BaseType::Named(b)) => a == b,
        (BaseType::List(a), BaseType::List(b)) => input_compatible(a, b, false),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::breaking_changes;

    const BASE: &str = r#"
        interface Node { id: ID! }
        type Video implements Node {
            id: ID!
            prompt: String!
            caption: String
            oldScore: Int @deprecated(reason: "use score")
            comments(first: Int = 20, after: String): [String!]!
        }
        type Gone { a: Int @deprecated(reason: "going") }
        type Kept { a: Int }
        enum Kind { A B C @deprecated(reason: "unused") }
        union Item = Video | Kept
        input Filter { kind: Kind, limit: Int! }
        type Query { video(id: ID!, filter: Filter): Video }
    "#;

    fn diff(candidate: &str) -> Vec<String> {
        breaking_changes(BASE, candidate).unwrap()
    }

    #[test]
    fn the_same_schema_and_additions_are_safe() {
        assert!(diff(BASE).is_empty());
        let grown = BASE
            .replace("caption: String\n", "caption: String\n remixable: Boolean!\n")
            .replace("enum Kind { A B C", "enum Kind { A B D C")
            .replace("comments(first: Int = 20", "comments(order: String, first: Int = 20")
            .replace("input Filter { kind: Kind,", "input Filter { kind: Kind, tag: String, page: Int! = 1,")
            .replace("union Item = Video | Kept", "union Item = Video | Kept | Extra\n type Extra { a: Int }")
            // Stricter outputs and looser inputs keep their promises.
            .replace("caption: String\n", "caption: String!\n")
            .replace("limit: Int!", "limit: Int");
        assert_eq!(diff(&grown), Vec::<String>::new());
    }

    #[test]
    fn deprecated_things_may_go() {
        let shrunk = BASE
            .replace("oldScore: Int @deprecated(reason: \"use score\")", "")
            .replace("type Gone { a: Int @deprecated(reason: \"going\") }", "")
            .replace("C @deprecated(reason: \"unused\")", "");
        assert_eq!(diff(&shrunk), Vec::<String>::new());
    }

    #[test]
    fn removals_without_deprecation_break() {
        let shrunk = BASE
            .replace("caption: String\n", "")
            .replace("type Kept { a: Int }", "")
            .replace("union Item = Video | Kept", "union Item = Video")
            .replace("enum Kind { A B", "enum Kind { A")
            .replace(", after: String", "")
            .replace("type Video implements Node", "type Video");
        assert_eq!(
            diff(&shrunk),
            [
                "argument Video.comments(after) was removed without being deprecated first",
                "enum value Kind.B was removed without being deprecated first",
                "field Video.caption was removed without being deprecated first",
                "type Kept was removed, but not all of its fields or values were deprecated first",
                "type Video no longer implements Node",
                "union Item lost its member Kept",
            ]
        );
    }

    #[test]
    fn looser_outputs_stricter_inputs_and_new_required_inputs_break() {
        let changed = BASE
            .replace("prompt: String!", "prompt: String")
            .replace("caption: String\n", "caption: Int\n")
            .replace("video(id: ID!, filter: Filter)", "video(id: ID!, filter: Filter!, region: String!)")
            .replace("input Filter { kind: Kind,", "input Filter { kind: Kind!, must: Boolean!,")
            .replace("enum Kind", "input KindX { a: Int } enum Kind")
            .replace("type Kept { a: Int }", "input Kept { a: Int }");
        assert_eq!(
            diff(&changed),
            [
                "argument Query.video(filter) changed type from Filter to Filter!, which operations already written do not send",
                "argument Query.video(region) is new and required (String!), so operations already written lack it",
                "field Video.caption changed type from String to Int, which clients were not promised",
                "field Video.prompt changed type from String! to String, which clients were not promised",
                "input field Filter(kind) changed type from Kind to Kind!, which operations already written do not send",
                "input field Filter(must) is new and required (Boolean!), so operations already written lack it",
                "type Kept changed from object to input",
            ]
        );
    }

    #[test]
    fn unreadable_schemas_are_named() {
        let e = breaking_changes("type {", BASE).unwrap_err();
        assert!(e.starts_with("the baseline schema does not parse"), "{e}");
    }
}
