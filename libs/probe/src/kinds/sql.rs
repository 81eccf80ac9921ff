//! `postgres://` and `mysql://` / `mariadb://`: connect on a fresh connection, run
//! `SELECT 1`, and report the version and connections in use against the limit.

use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};

use super::{error_chain, host_port};
use crate::observation::Observation;
use crate::probe::{Ctx, SpecError};

#[derive(Debug)]
pub(crate) struct PgTarget {
    options: PgConnectOptions,
    shown: String,
}

#[derive(Debug)]
pub(crate) struct MySqlTarget {
    options: MySqlConnectOptions,
    shown: String,
}

pub(crate) fn compile_postgres(ctx: &mut Ctx<'_>, url: &str) -> Result<PgTarget, SpecError> {
    let (host, port, _) = host_port(ctx, url, Some(5432))?;
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| ctx.error("url", format!("is not a PostgreSQL url ({e})")))?
        .application_name("claudeops-probe")
        .disable_statement_logging();
    Ok(PgTarget {
        options,
        shown: format!("{host}:{port}"),
    })
}

pub(crate) fn compile_mysql(ctx: &mut Ctx<'_>, url: &str) -> Result<MySqlTarget, SpecError> {
    let (host, port, _) = host_port(ctx, url, Some(3306))?;
    // sqlx knows the scheme as `mysql://`; MariaDB speaks the same protocol.
    let url = match url.split_once("://") {
        Some((_, rest)) => format!("mysql://{rest}"),
        None => url.to_owned(),
    };
    let options = MySqlConnectOptions::from_str(&url)
        .map_err(|e| ctx.error("url", format!("is not a MySQL/MariaDB url ({e})")))?
        .disable_statement_logging();
    Ok(MySqlTarget {
        options,
        shown: format!("{host}:{port}"),
    })
}

fn failed(what: &str, shown: &str, e: &sqlx::Error) -> Observation {
    Observation::failed(format!("{what} {shown} failed: {}", error_chain(e)))
}

pub(crate) async fn observe_postgres(t: &PgTarget) -> Observation {
    let mut conn: PgConnection = match t.options.connect().await {
        Ok(c) => c,
        Err(e) => return failed("connecting to", &t.shown, &e),
    };
    if let Err(e) = sqlx::query("SELECT 1").execute(&mut conn).await {
        return failed("SELECT 1 on", &t.shown, &e);
    }
    let stats = sqlx::query(
        "SELECT current_setting('server_version'), \
         (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), \
         current_setting('max_connections')::bigint",
    )
    .fetch_one(&mut conn)
    .await;
    let _ = conn.close().await;
    let mut obs = Observation {
        connected: true,
        ..Observation::default()
    };
    match stats.and_then(|row| {
        Ok((
            row.try_get::<String, _>(0)?,
            row.try_get::<i64, _>(1)?,
            row.try_get::<i64, _>(2)?,
        ))
    }) {
        Ok((version, used, max)) => {
            obs.summary = format!("PostgreSQL {version}; connections {used}/{max}");
            obs.body = Some(version);
        }
        Err(e) => obs.summary = format!("SELECT 1 ok; stats unavailable: {}", error_chain(&e)),
    }
    obs.evidence = obs.summary.clone();
    obs
}

pub(crate) async fn observe_mysql(t: &MySqlTarget) -> Observation {
    let mut conn: MySqlConnection = match t.options.connect().await {
        Ok(c) => c,
        Err(e) => return failed("connecting to", &t.shown, &e),
    };
    if let Err(e) = sqlx::query("SELECT 1").execute(&mut conn).await {
        return failed("SELECT 1 on", &t.shown, &e);
    }
    let stats = async {
        let row = sqlx::query("SELECT VERSION(), CAST(@@max_connections AS SIGNED)")
            .fetch_one(&mut conn)
            .await?;
        let version: String = row.try_get(0)?;
        let max: i64 = row.try_get(1)?;
        let row = sqlx::query("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
            .fetch_one(&mut conn)
            .await?;
        let used: String = row.try_get(1)?;
        Ok::<_, sqlx::Error>((version, used, max))
    }
    .await;
    let _ = conn.close().await;
    let mut obs = Observation {
        connected: true,
        ..Observation::default()
    };
    match stats {
        Ok((version, used, max)) => {
            let product = if version.to_ascii_lowercase().contains("mariadb") {
                "MariaDB"
            } else {
                "MySQL"
            };
            obs.summary = format!("{product} {version}; connections {used}/{max}");
            obs.body = Some(version);
        }
        Err(e) => obs.summary = format!("SELECT 1 ok; stats unavailable: {}", error_chain(&e)),
    }
    obs.evidence = obs.summary.clone();
    obs
}
