//! The output shape: the nested JSON objects that dotted field names (`customer.name`) and
//! sub-tables describe, and the lists of objects `each` tables make, checked for clashes, then
//! frozen into the plan's object tree.

use super::plan::{EachPlan, Json, Member, Node, ObjectPlan};

/// The output shape while fields are being added.
#[derive(Default)]
pub(super) struct Tree {
    members: Vec<(String, Branch)>,
}

enum Branch {
    Field(usize),
    Object(Tree),
    /// A list of objects: one per item, each shaped by the tree.
    Each(Box<EachPlan>, Tree),
}

impl Tree {
    /// Adds field `index` at `path`; fails when the path clashes with another field. Returns
    /// whether the field sits inside an `each` list (its value differs per item).
    pub fn insert(&mut self, path: &[String], index: usize) -> Result<bool, String> {
        self.add(path, path, Branch::Field(index))
    }

    /// Adds a list of objects at `path`, which the fields under it are inserted into.
    pub fn insert_each(&mut self, path: &[String], each: EachPlan) -> Result<bool, String> {
        self.add(path, path, Branch::Each(Box::new(each), Tree::default()))
    }

    fn add(&mut self, full: &[String], path: &[String], leaf: Branch) -> Result<bool, String> {
        let Some((name, rest)) = path.split_first() else {
            return Ok(false);
        };
        let existing = self.members.iter_mut().find(|(n, _)| n == name);
        match (existing, rest.is_empty()) {
            (None, true) => self.members.push((name.clone(), leaf)),
            (None, false) => {
                let mut sub = Tree::default();
                let repeated = sub.add(full, rest, leaf)?;
                self.members.push((name.clone(), Branch::Object(sub)));
                return Ok(repeated);
            }
            (Some((_, Branch::Object(sub))), false) => return sub.add(full, rest, leaf),
            (Some((_, Branch::Each(_, sub))), false) => {
                sub.add(full, rest, leaf)?;
                return Ok(true);
            }
            (Some((_, Branch::Field(_) | Branch::Each(..))), true) => {
                return Err(format!("field \"{}\" is defined twice", full.join(".")));
            }
            (Some((_, Branch::Field(_))), false) => {
                return Err(format!(
                    "field \"{}\" is inside \"{name}\", which is a field, not an object",
                    full.join(".")
                ));
            }
            (Some((_, Branch::Object(_))), true) => {
                return Err(format!(
                    "field \"{name}\" is already an object of nested fields"
                ));
            }
        }
        Ok(false)
    }

    /// Top-level member names.
    pub fn names(&self) -> Vec<String> {
        self.members.iter().map(|(n, _)| n.clone()).collect()
    }

    pub fn plan(self) -> ObjectPlan {
        ObjectPlan {
            members: self
                .members
                .into_iter()
                .map(|(name, branch)| Member {
                    key: member_key(&name),
                    node: match branch {
                        Branch::Field(i) => Node::Field(i),
                        Branch::Object(sub) => Node::Object(sub.plan()),
                        Branch::Each(mut each, sub) => {
                            each.object = sub.plan();
                            Node::Each(each)
                        }
                    },
                })
                .collect(),
        }
    }
}

/// `"name":` as JSON.
fn member_key(name: &str) -> Json {
    let mut key = serde_json::to_string(name).unwrap_or_default();
    key.push(':');
    Json::new(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn fields_nest_by_path_in_insertion_order() {
        let mut tree = Tree::default();
        tree.insert(&path("b"), 0).unwrap();
        tree.insert(&path("a.x"), 1).unwrap();
        tree.insert(&path("a.y"), 2).unwrap();
        assert_eq!(tree.names(), ["b", "a"]);
        let plan = tree.plan();
        assert_eq!(&*plan.members[1].key, b"\"a\":");
        assert!(matches!(&plan.members[1].node, Node::Object(o) if o.members.len() == 2));
    }

    #[test]
    fn clashes_are_refused() {
        let mut tree = Tree::default();
        tree.insert(&path("a"), 0).unwrap();
        tree.insert(&path("b.c"), 1).unwrap();
        assert_eq!(
            tree.insert(&path("a"), 2).unwrap_err(),
            "field \"a\" is defined twice"
        );
        assert_eq!(
            tree.insert(&path("b"), 3).unwrap_err(),
            "field \"b\" is already an object of nested fields"
        );
    }
}
