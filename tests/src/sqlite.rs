//! SQLite faults for tests: another process holding a database's write lock,
//! as a backup tool or a second program on the same file would.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Takes and holds the write lock in a `python3` process of its own.
const HOLDER: &str = "import sqlite3, sys, time\n\
    db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n\
    db.execute('BEGIN IMMEDIATE')\n\
    print('locked', flush=True)\n\
    time.sleep(float(sys.argv[2]))\n\
    db.execute('COMMIT')\n";

/// Another process holding a database's write lock (`BEGIN IMMEDIATE`).
pub struct WriteLock {
    child: Child,
}

impl WriteLock {
    /// Takes `db`'s write lock and holds it for `hold`; returns once taken.
    pub fn hold(db: &Path, hold: Duration) -> WriteLock {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(HOLDER)
            .arg(db)
            .arg(hold.as_secs_f64().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 (to hold {db:?}'s write lock): {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut said = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut said)
            .unwrap_or_else(|e| panic!("reading the lock holder: {e}"));
        assert_eq!(
            said.trim(),
            "locked",
            "the write lock on {db:?} was not taken"
        );
        WriteLock { child }
    }

    /// Waits until the holder lets go; panics if it failed.
    pub fn released(mut self) {
        let status = self
            .child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for the lock holder: {e}"));
        assert!(status.success(), "the lock holder failed: {status}");
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        // A test that failed first must not leave the holder behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
