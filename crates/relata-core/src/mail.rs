//! The mailer port: how services send email without knowing how. The SMTP adapter arrives
//! with the automation work; until one is configured, [`NoMailer`] refuses and the service
//! says so in its log. Tests plug in a [`CapturingMailer`].

use std::sync::Mutex;

/// One outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub trait Mailer: Send + Sync {
    /// Sends or queues `mail`; the error is for the log.
    fn send(&self, mail: Mail) -> Result<(), String>;
}

/// No mail server configured: every send fails.
pub struct NoMailer;

impl Mailer for NoMailer {
    fn send(&self, _mail: Mail) -> Result<(), String> {
        Err("no mail server is configured".into())
    }
}

/// Keeps what it is asked to send, for tests.
#[derive(Default)]
pub struct CapturingMailer {
    pub sent: Mutex<Vec<Mail>>,
}

impl CapturingMailer {
    pub fn sent(&self) -> Vec<Mail> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Mailer for CapturingMailer {
    fn send(&self, mail: Mail) -> Result<(), String> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(mail);
        Ok(())
    }
}
