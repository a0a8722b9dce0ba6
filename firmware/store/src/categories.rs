//! Channel categories: the groups channels are listed under in the Xtream-Codes API
//! (`live_categories`), the M3U playlists (`group-title`) and the web page.
//!
//! Every store has "TV" ([`CATEGORY_TV`]) and "Radio" ([`CATEGORY_RADIO`]); a channel
//! without a category of its own is listed under one of them by its service type.
//! Technicians add more ("News", "Sport", "Hotel"). A category that a channel or a
//! user's allowed list refers to cannot be removed, so that no reference dangles.

use serde::{Deserialize, Serialize};
use sled::Transactional;

use crate::codec::{
    CATEGORIES, NEXT_CATEGORY_ID_KEY, decode_json, encode_json, id_key, take_next_id,
};
use crate::error::StoreError;
use crate::{Store, key_id};

/// Category of the TV channels without one of their own; seeded in every store.
pub const CATEGORY_TV: u32 = 1;
/// Category of the radio channels without one of their own; seeded in every store.
pub const CATEGORY_RADIO: u32 = 2;
/// Longest category name, in characters.
pub const MAX_CATEGORY_NAME_CHARS: usize = 64;

/// A group of channels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Assigned by the store, never reused; 1 and 2 are TV and Radio.
    pub id: u32,
    /// 1..=64 characters, no control characters; unique regardless of case.
    pub name: String,
}

/// The categories every store starts with.
pub(crate) fn seeded_categories() -> [Category; 2] {
    [
        Category {
            id: CATEGORY_TV,
            name: "TV".into(),
        },
        Category {
            id: CATEGORY_RADIO,
            name: "Radio".into(),
        },
    ]
}

/// The first id a category added by hand gets.
pub(crate) const FIRST_FREE_CATEGORY_ID: u32 = 3;

/// Checks a category name.
pub fn validate_category_name(name: &str) -> Result<(), StoreError> {
    let invalid = |why: String| Err(StoreError::Invalid(format!("category name {why}")));
    if name.trim().is_empty() {
        return invalid("must not be empty".into());
    }
    let chars = name.chars().count();
    if chars > MAX_CATEGORY_NAME_CHARS {
        return invalid(format!(
            "is {chars} characters long; at most {MAX_CATEGORY_NAME_CHARS} are allowed"
        ));
    }
    if name.chars().any(char::is_control) {
        return invalid(format!("{name:?} contains control characters"));
    }
    Ok(())
}

pub(crate) fn category_not_found(id: u32) -> StoreError {
    StoreError::NotFound(format!("there is no category with id {id}"))
}

/// Two names are the same category when they differ only by case ("news" is "News").
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    name_key(a) == name_key(b)
}

/// What two category names equal under [`same_name`] have in common: a key for a set
/// of names.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

impl Store {
    /// All categories, by id.
    pub fn categories(&self) -> Result<Vec<Category>, StoreError> {
        self.read(|trees| {
            trees
                .categories
                .iter()
                .map(|entry| {
                    let (key, value) = entry?;
                    decode_json(CATEGORIES, &key_id(CATEGORIES, &key)?, &value)
                })
                .collect()
        })
    }

    /// One category.
    pub fn category(&self, id: u32) -> Result<Option<Category>, StoreError> {
        self.read(|trees| {
            trees
                .categories
                .get(id_key(id))?
                .map(|value| decode_json(CATEGORIES, &id, &value))
                .transpose()
        })
    }

    /// Creates a category, or returns the existing one whose name differs at most by
    /// case (so that adding "news" twice, or "News" then "NEWS", makes one category).
    pub fn add_category(&self, name: &str) -> Result<Category, StoreError> {
        validate_category_name(name)?;
        self.write(|trees| {
            if let Some(existing) = self
                .categories()?
                .into_iter()
                .find(|category| same_name(&category.name, name))
            {
                return Ok(existing);
            }
            Ok(
                (&trees.meta, &trees.categories).transaction(|(meta, categories)| {
                    let id = take_next_id(meta, NEXT_CATEGORY_ID_KEY, "category")?;
                    let category = Category {
                        id,
                        name: name.to_string(),
                    };
                    if categories
                        .insert(&id_key(id), encode_json(&category))?
                        .is_some()
                    {
                        return Err(crate::counter_behind(NEXT_CATEGORY_ID_KEY, id).abort());
                    }
                    Ok(category)
                })?,
            )
        })
    }

    /// Renames a category; refused with a conflict if another one already has the name
    /// (regardless of case). TV and Radio may be renamed ("Télévision").
    pub fn rename_category(&self, id: u32, name: &str) -> Result<Category, StoreError> {
        validate_category_name(name)?;
        self.write(|trees| {
            let all = self.categories()?;
            if !all.iter().any(|category| category.id == id) {
                return Err(category_not_found(id));
            }
            if let Some(other) = all
                .iter()
                .find(|category| category.id != id && same_name(&category.name, name))
            {
                return Err(StoreError::Conflict(format!(
                    "category name {name:?} is already used by category {} {:?}",
                    other.id, other.name
                )));
            }
            let category = Category {
                id,
                name: name.to_string(),
            };
            let json = encode_json(&category);
            trees.categories.transaction(|categories| {
                if categories.insert(&id_key(id), json.as_slice())?.is_none() {
                    return Err(category_not_found(id).abort());
                }
                Ok(())
            })?;
            Ok(category)
        })
    }

    /// Removes a category. Refused with a conflict for TV and Radio, and while a
    /// channel is listed under it or a user's allowed categories name it (the message
    /// says which).
    pub fn remove_category(&self, id: u32) -> Result<(), StoreError> {
        if id == CATEGORY_TV || id == CATEGORY_RADIO {
            return Err(StoreError::Conflict(format!(
                "category {id} ({}) cannot be removed: channels without a category of \
                 their own are listed under it",
                if id == CATEGORY_TV { "TV" } else { "Radio" }
            )));
        }
        self.write(|trees| {
            if self.category(id)?.is_none() {
                return Err(category_not_found(id));
            }
            // Checked under the write lock, so no change can start using the category
            // between this check and the removal.
            let channels: Vec<String> = self
                .channels()?
                .iter()
                .filter(|channel| channel.category_id == Some(id))
                .map(|channel| channel.describe())
                .collect();
            if !channels.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "category {id} is used by {} channel(s): {}",
                    channels.len(),
                    list(&channels)
                )));
            }
            let users: Vec<String> = self
                .users()?
                .iter()
                .filter(|user| user.categories.contains(&id))
                .map(|user| format!("{:?}", user.username))
                .collect();
            if !users.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "category {id} is in the allowed categories of {} user(s): {}",
                    users.len(),
                    list(&users)
                )));
            }
            trees.categories.transaction(|categories| {
                if categories.remove(&id_key(id))?.is_none() {
                    return Err(category_not_found(id).abort());
                }
                Ok(())
            })?;
            Ok(())
        })
    }

    /// Refuses ids that name no category; `what` says whose reference it is.
    pub(crate) fn check_categories_exist(
        &self,
        what: &dyn std::fmt::Display,
        ids: &[u32],
    ) -> Result<(), StoreError> {
        for id in ids {
            if self.category(*id)?.is_none() {
                return Err(StoreError::Invalid(format!(
                    "{what}: there is no category with id {id}"
                )));
            }
        }
        Ok(())
    }
}

/// The first few names of a list, for a message.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}
