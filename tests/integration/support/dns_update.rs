//! The reference clients for checking a server's RFC 2136 update policy:
//! `nsupdate` (BIND's) sends updates and reports the rcode it got, `dig`
//! reads the records back. [`policy_replies`] runs the same list of
//! allowed and forbidden updates against any [`UpdateServer`], so a test
//! compares what its server answers with a table (Knot's in `acme/knot_reference.rs`).
//!
//! | case | Knot 3.2 | gslb (issue 13) |
//! |---|---|---|
//! | allowed add / delete | NOERROR | NOERROR |
//! | unknown key | NOTAUTH(BADKEY) | NOTAUTH(BADKEY) |
//! | wrong secret | NOTAUTH(BADSIG) | NOTAUTH(BADSIG) |
//! | unsigned | NOTAUTH | REFUSED |
//! | name outside the policy | NOTAUTH(BADKEY) | REFUSED, signed |
//! | type outside the policy | NOTAUTH(BADKEY) | REFUSED, signed |
//! | prerequisite "no TXT" with TXT there | YXRRSET | YXRRSET |
//! | prerequisite "name in use" on a free name | NXDOMAIN | NXDOMAIN |
//! | zone the server does not serve | NOTAUTH, unsigned | NOTAUTH |
//!
//! Knot refuses a policy breach as if the key were unknown; issue 13 asks
//! gslb for REFUSED (RFC 2136 §3.3) in a response signed with the key.

use std::{fmt, net::SocketAddr, process::Stdio, time::Duration};

use crate::support::acme::{TsigKey, UpdateServer};

/// The most one nsupdate or dig run may take.
const CLIENT_LIMIT: Duration = Duration::from_secs(20);

/// How nsupdate sends an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// One dynamic update: a zone, at most one prerequisite and one change,
/// signed with a key or not.
#[derive(Debug, Clone)]
pub(crate) struct Update {
    zone: String,
    key: Option<TsigKey>,
    prerequisite: Option<String>,
    change: String,
    transport: Transport,
}

impl Update {
    /// Adds one record with TTL 60 (`data` in presentation format).
    pub(crate) fn add(
        zone: &str,
        key: Option<&TsigKey>,
        name: &str,
        rtype: &str,
        data: &str,
    ) -> Self {
        Self::new(zone, key, format!("add {name} 60 {rtype} {data}"))
    }

    /// Deletes one record (`data` given) or the whole RRset (`data` empty).
    pub(crate) fn delete(
        zone: &str,
        key: Option<&TsigKey>,
        name: &str,
        rtype: &str,
        data: &str,
    ) -> Self {
        Self::new(zone, key, format!("delete {name} {rtype} {data}"))
    }

    fn new(zone: &str, key: Option<&TsigKey>, change: String) -> Self {
        Self {
            zone: zone.to_owned(),
            key: key.cloned(),
            prerequisite: None,
            change,
            transport: Transport::Udp,
        }
    }

    /// With a prerequisite in nsupdate's words, e.g. `nxrrset NAME TXT`.
    pub(crate) fn requiring(mut self, prerequisite: &str) -> Self {
        self.prerequisite = Some(prerequisite.to_owned());
        self
    }

    /// Sent over `transport` (UDP unless told).
    pub(crate) fn over(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// nsupdate's input for sending this to `server`.
    fn script(&self, server: SocketAddr) -> String {
        // check-names off: nsupdate would refuse an A record at an
        // `_acme-challenge` owner itself, before the server sees it.
        let mut script = format!(
            "check-names off\nserver {} {}\nzone {}\n",
            server.ip(),
            server.port(),
            self.zone
        );
        if let Some(prerequisite) = &self.prerequisite {
            script.push_str(&format!("prereq {prerequisite}\n"));
        }
        script.push_str(&format!("update {}\nsend\n", self.change));
        script
    }
}

/// What nsupdate reported for one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpdateReply {
    /// The response's rcode with any TSIG error, as nsupdate prints them:
    /// `NOERROR`, `REFUSED`, `NOTAUTH(BADKEY)`; `no reply` if none came.
    pub(crate) rcode: String,
    /// nsupdate's complaint about the response's signature, if any:
    /// `tsig indicates error` (a BADKEY/BADSIG response),
    /// `expected a TSIG or SIG(0)` (an unsigned response to a signed
    /// update), or a failed verification.
    pub(crate) tsig_error: Option<String>,
}

impl fmt::Display for UpdateReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tsig_error {
            None => write!(f, "{}", self.rcode),
            Some(error) => write!(f, "{} (tsig: {error})", self.rcode),
        }
    }
}

/// Sends `update` to `server` with nsupdate.
pub(crate) async fn nsupdate(server: SocketAddr, update: &Update) -> UpdateReply {
    let mut command = tokio::process::Command::new("nsupdate");
    // 5 s per try, one retry: bounded even when nothing answers.
    command.args(["-t", "5", "-u", "2", "-r", "1"]);
    if update.transport == Transport::Tcp {
        command.arg("-v");
    }
    if let Some(key) = &update.key {
        command.args([
            "-y",
            &format!("{}:{}:{}", key.algorithm.name(), key.name, key.secret),
        ]);
    }
    let output = run(command, Some(update.script(server))).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let failed = text
        .lines()
        .find_map(|line| line.strip_prefix("update failed: "));
    let tsig_error = text
        .lines()
        .find_map(|line| line.strip_prefix("; TSIG error with server: "))
        .map(str::to_owned);
    let answered = !text.contains("; Communication with");
    let rcode = match failed {
        Some(rcode) => rcode.trim().to_owned(),
        // nsupdate exits 2 without "update failed" when a NOERROR
        // response does not verify: that is still a NOERROR.
        None if output.status.success() || (answered && tsig_error.is_some()) => {
            "NOERROR".to_owned()
        }
        None => format!("no reply ({}): {text}", output.status),
    };
    UpdateReply { rcode, tsig_error }
}

/// What dig saw for one question.
#[derive(Debug)]
pub(crate) struct Lookup {
    /// The rcode, e.g. `NOERROR`, `NXDOMAIN`.
    pub(crate) status: String,
    /// The data of each answer record, in presentation format.
    pub(crate) answers: Vec<String>,
}

/// Asks `server` for `name`/`rtype` with dig, without recursion.
pub(crate) async fn dig(server: SocketAddr, name: &str, rtype: &str) -> Lookup {
    let mut command = tokio::process::Command::new("dig");
    command
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args([
            "+norec",
            "+time=2",
            "+tries=2",
            "+noall",
            "+comments",
            "+answer",
        ])
        .args([name, rtype]);
    let output = run(command, None).await;
    let text = String::from_utf8_lossy(&output.stdout);
    let status = text
        .lines()
        .find_map(|line| line.split("status: ").nth(1))
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("dig {name} {rtype} @{server}: no reply:\n{text}"))
        .to_owned();
    let answers = text
        .lines()
        .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
        .filter_map(|line| {
            // NAME TTL CLASS TYPE DATA...
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 4 && fields[3].eq_ignore_ascii_case(rtype))
                .then(|| fields[4..].join(" "))
        })
        .collect();
    Lookup { status, answers }
}

/// The serial of `zone`'s SOA at `server`.
pub(crate) async fn soa_serial(server: SocketAddr, zone: &str) -> u32 {
    let soa = dig(server, zone, "SOA").await;
    let serial = soa
        .answers
        .first()
        .and_then(|data| data.split_whitespace().nth(2))
        .and_then(|serial| serial.parse().ok());
    serial.unwrap_or_else(|| panic!("no SOA serial for {zone} at {server}: {soa:?}"))
}

/// Runs a client to the end under [`CLIENT_LIMIT`], with `input` on stdin.
async fn run(mut command: tokio::process::Command, input: Option<String>) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("client starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let finished = async {
        if let Some(input) = input {
            stdin
                .write_all(input.as_bytes())
                .await
                .expect("client input");
        }
        drop(stdin);
        child.wait_with_output().await.expect("client runs")
    };
    tokio::time::timeout(CLIENT_LIMIT, finished)
        .await
        .unwrap_or_else(|_| panic!("{command:?} took more than {CLIENT_LIMIT:?}"))
}

/// One update of [`policy_replies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyCase {
    /// Adds a TXT record at `_acme-challenge.webapp` with the key.
    AllowedAdd,
    /// The same, signed with a key name the server does not know.
    UnknownKey,
    /// The same, signed with the right name and a wrong secret.
    WrongSecret,
    /// The same, not signed.
    Unsigned,
    /// A TXT record at `www`, which the policy does not allow.
    NameOutsidePolicy,
    /// An A record at `_acme-challenge.webapp`: a type the policy does not
    /// allow at an allowed name.
    TypeOutsidePolicy,
    /// An add that requires "no TXT records at `_acme-challenge.webapp`"
    /// while the one of [`Self::AllowedAdd`] is there.
    RrsetExists,
    /// An add that requires "`_acme-challenge.missing` is in use".
    NameMissing,
    /// An add to `example.test.`, the parent, which the server does not
    /// serve.
    ZoneNotServed,
    /// Deletes the record of [`Self::AllowedAdd`].
    AllowedDelete,
}

/// Every case, in the order [`policy_replies`] sends them.
pub(crate) const POLICY_CASES: [PolicyCase; 10] = [
    PolicyCase::AllowedAdd,
    PolicyCase::UnknownKey,
    PolicyCase::WrongSecret,
    PolicyCase::Unsigned,
    PolicyCase::NameOutsidePolicy,
    PolicyCase::TypeOutsidePolicy,
    PolicyCase::RrsetExists,
    PolicyCase::NameMissing,
    PolicyCase::ZoneNotServed,
    PolicyCase::AllowedDelete,
];

/// The TXT data the cases write.
const CASE_TXT: &str = "\"policy-check\"";

impl PolicyCase {
    /// The update this case sends to `server`.
    fn update(self, server: &UpdateServer) -> Update {
        let zone = server.zone.as_str();
        let key = Some(&server.key);
        let allowed = format!("_acme-challenge.webapp.{zone}");
        let add = |key: Option<&TsigKey>| Update::add(zone, key, &allowed, "TXT", CASE_TXT);
        match self {
            Self::AllowedAdd => add(key),
            Self::UnknownKey => add(Some(&TsigKey::generate(
                &format!("unknown.{zone}"),
                server.key.algorithm,
            ))),
            Self::WrongSecret => add(Some(&server.key.with_other_secret())),
            Self::Unsigned => add(None),
            Self::NameOutsidePolicy => {
                Update::add(zone, key, &format!("www.{zone}"), "TXT", CASE_TXT)
            }
            Self::TypeOutsidePolicy => Update::add(zone, key, &allowed, "A", "192.0.2.1"),
            Self::RrsetExists => add(key).requiring(&format!("nxrrset {allowed} TXT")),
            Self::NameMissing => {
                add(key).requiring(&format!("yxdomain _acme-challenge.missing.{zone}"))
            }
            Self::ZoneNotServed => {
                let parent = zone.split_once('.').map_or(zone, |(_, parent)| parent);
                Update::add(
                    parent,
                    key,
                    &format!("_acme-challenge.{parent}"),
                    "TXT",
                    CASE_TXT,
                )
            }
            Self::AllowedDelete => Update::delete(zone, key, &allowed, "TXT", CASE_TXT),
        }
    }
}

/// Sends every [`POLICY_CASES`] update to `server` over `transport`, in
/// order, and returns each reply. Afterwards no record of the cases is
/// left if the server answered as it should.
pub(crate) async fn policy_replies(
    server: &UpdateServer,
    transport: Transport,
) -> Vec<(PolicyCase, UpdateReply)> {
    let mut replies = Vec::with_capacity(POLICY_CASES.len());
    for case in POLICY_CASES {
        let update = case.update(server).over(transport);
        replies.push((case, nsupdate(server.addr, &update).await));
    }
    replies
}

/// The differences between `replies` and `expected` (the reply strings of
/// [`UpdateReply`]'s `Display`), one line each; empty when they agree.
pub(crate) fn policy_mismatches(
    replies: &[(PolicyCase, UpdateReply)],
    expected: &[(PolicyCase, &str)],
) -> Vec<String> {
    replies
        .iter()
        .filter_map(|(case, reply)| {
            let want = expected.iter().find(|(c, _)| c == case).map(|(_, w)| *w);
            let got = reply.to_string();
            (want != Some(got.as_str())).then(|| format!("{case:?}: expected {want:?}, got {got}"))
        })
        .collect()
}
