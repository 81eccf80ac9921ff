//! Named dashboard users: added, changed and removed by the operator
//! (`claudeops-control-plane user …`), checked at login. Passwords are hashed
//! with argon2id (the crate's default parameters, a random salt per user); only
//! the PHC string is stored. Hashing runs on the blocking pool, never on the
//! request's task.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use claudeops_store::{Store, StoreError, UserRecord};

use crate::auth::Role;

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(
        "user name {0:?} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    BadName(String),
    #[error("the password is too short: use at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
    #[error("user name {0:?} is the API token's holder in audit records; choose another")]
    Reserved(String),
    #[error("the stored password of {0:?} is not a hash this version reads; set it again")]
    BadHash(String),
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user as the operator sees it (no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// When the role or password last changed.
    pub updated_at_ms: i64,
}

#[derive(Clone)]
pub struct Users {
    store: Arc<dyn Store>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The argon2id PHC string of a password, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Whether the password matches the PHC string (false for a malformed one).
fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

impl Users {
    pub fn new(store: Arc<dyn Store>) -> Users {
        Users { store }
    }

    /// Adds the user, or gives an existing one this role and password.
    /// Returns true if the user is new.
    pub async fn put(
        &self,
        name: &str,
        role: Role,
        password: &str,
        now_ms: i64,
    ) -> Result<bool, UserError> {
        if !valid_name(name) {
            return Err(UserError::BadName(name.to_owned()));
        }
        if name.eq_ignore_ascii_case(crate::auth::TOKEN_ACTOR.replace(' ', "-").as_str())
            || name.eq_ignore_ascii_case("api")
        {
            return Err(UserError::Reserved(name.to_owned()));
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(UserError::ShortPassword);
        }
        let password = password.to_owned();
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| UserError::Hash(e.to_string()))??;
        let existing = self.store.get_user(name).await?;
        self.store
            .put_user(&UserRecord {
                name: name.to_owned(),
                role: role.as_str().to_owned(),
                password_hash,
                created_at_ms: existing.as_ref().map_or(now_ms, |u| u.created_at_ms),
                updated_at_ms: now_ms,
            })
            .await?;
        Ok(existing.is_none())
    }

    pub async fn list(&self) -> Result<Vec<User>, UserError> {
        let records = self.store.list_users().await?;
        records
            .into_iter()
            .map(|r| {
                let role = r
                    .role
                    .parse()
                    .map_err(|_| UserError::BadHash(r.name.clone()))?;
                Ok(User {
                    name: r.name,
                    role,
                    updated_at_ms: r.updated_at_ms,
                })
            })
            .collect()
    }

    pub async fn remove(&self, name: &str) -> Result<bool, UserError> {
        Ok(self.store.delete_user(name).await?)
    }

    /// The user, if the name and password match. An unknown name costs the
    /// same hashing as a known one, so timing does not tell which names exist.
    pub async fn verify(&self, name: &str, password: &str) -> Result<Option<User>, UserError> {
        let record = if valid_name(name) {
            self.store.get_user(name).await?
        } else {
            None
        };
        let phc = record
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_owned());
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || password_matches(&password, &phc))
            .await
            .map_err(|e| UserError::Hash(e.to_string()))?;
        let Some(record) = record.filter(|_| matches) else {
            return Ok(None);
        };
        let role = record
            .role
            .parse()
            .map_err(|_| UserError::BadHash(record.name.clone()))?;
        Ok(Some(User {
            name: record.name,
            role,
            updated_at_ms: record.updated_at_ms,
        }))
    }
}

/// Checked against when the name is unknown; no password matches it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$Sxt0Y1VZ2YI3RMQvcwm9iOOJnlEH4ECIZhLY1/5cNq0";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn users_log_in_with_their_password_only() {
        let store = claudeops_store::open("sqlite::memory:")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let users = Users::new(store.clone());
        assert!(
            users
                .put("alice", Role::Operator, "correct horse battery", 1)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        );
        let stored = store
            .get_user("alice")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("stored"));
        assert!(stored.password_hash.starts_with("$argon2id$"));
        assert!(!stored.password_hash.contains("horse"));

        let ok = users
            .verify("alice", "correct horse battery")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ok,
            Some(User {
                name: "alice".into(),
                role: Role::Operator,
                updated_at_ms: 1,
            })
        );
        for (name, password) in [
            ("alice", "wrong horse battery"),
            ("bob", "correct horse battery"),
            ("../x", "correct horse battery"),
            ("alice", ""),
        ] {
            assert_eq!(
                users
                    .verify(name, password)
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
                None,
                "{name}/{password}"
            );
        }
        // A new password and role replace the old ones.
        assert!(
            !users
                .put("alice", Role::Viewer, "another long password", 2)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        );
        assert!(
            users
                .verify("alice", "correct horse battery")
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none()
        );
        assert!(matches!(
            users.put("alice", Role::Viewer, "short", 3).await,
            Err(UserError::ShortPassword)
        ));
        assert!(matches!(
            users
                .put("bad name", Role::Viewer, "long enough password", 3)
                .await,
            Err(UserError::BadName(_))
        ));
        assert!(matches!(
            users
                .put("api-token", Role::Viewer, "long enough password", 3)
                .await,
            Err(UserError::Reserved(_))
        ));
        assert!(
            users
                .remove("alice")
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        );
        assert!(
            users
                .list()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_empty()
        );
    }

    #[test]
    fn the_dummy_hash_is_well_formed() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!password_matches("", DUMMY_HASH));
    }
}
