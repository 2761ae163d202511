//! The extension's one error type, [`ExtError`], and its conversion into the `EventSrv\…`
//! exception classes of docs/extension.md at the PHP boundary.
//!
//! Owns: the mapping error kind → exception class. The classes live in the userland (`php/src`)
//! and are looked up by name with autoload; when one cannot be loaded we throw
//! `RuntimeException` with the class name in front of the message, so nothing is lost.
//! Must never: throw over an exception that is already pending (its class and trace win).

use ext_php_rs::exception::PhpException;
use ext_php_rs::zend::ce;

use crate::engine;

#[derive(Debug)]
pub enum ExtError {
    DaemonUnavailable(String),
    Region(String),
    RegionLayoutMismatch(String),
    Serialization(String),
    FrameTooLarge(String),
    UnknownEventType(String),
    /// The daemon answered with an error.
    Daemon {
        code: i32,
        message: String,
    },
    /// A bad argument from the caller (thrown as `ValueError`-like `InvalidArgumentException`).
    InvalidArgument(String),
    /// A PHP exception is already pending (from an autoloader, a typed property, …).
    Pending,
}

pub type ExtResult<T> = Result<T, ExtError>;

impl std::fmt::Display for ExtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.raw_message())
    }
}

impl ExtError {
    fn class_name(&self) -> &'static str {
        match self {
            ExtError::DaemonUnavailable(_) => "EventSrv\\DaemonUnavailableException",
            ExtError::Region(_) => "EventSrv\\RegionException",
            ExtError::RegionLayoutMismatch(_) => "EventSrv\\RegionLayoutMismatchException",
            ExtError::Serialization(_) => "EventSrv\\SerializationException",
            ExtError::FrameTooLarge(_) => "EventSrv\\FrameTooLargeException",
            ExtError::UnknownEventType(_) => "EventSrv\\UnknownEventTypeException",
            ExtError::Daemon { .. } => "EventSrv\\DaemonException",
            ExtError::InvalidArgument(_) => "InvalidArgumentException",
            ExtError::Pending => "",
        }
    }

    /// Exception messages are C strings: a NUL would make the throw itself fail.
    fn message(&self) -> String {
        self.raw_message().replace('\0', "\\0")
    }

    fn raw_message(&self) -> &str {
        match self {
            ExtError::DaemonUnavailable(m)
            | ExtError::Region(m)
            | ExtError::RegionLayoutMismatch(m)
            | ExtError::Serialization(m)
            | ExtError::FrameTooLarge(m)
            | ExtError::UnknownEventType(m)
            | ExtError::InvalidArgument(m)
            | ExtError::Daemon { message: m, .. } => m,
            ExtError::Pending => "",
        }
    }
}

impl From<ExtError> for PhpException {
    fn from(error: ExtError) -> PhpException {
        if let ExtError::Pending = error {
            // `PhpException::throw` leaves a pending exception alone.
            return PhpException::from_message(String::new());
        }
        if engine::exception_pending() {
            return PhpException::from_message(String::new());
        }
        let code = match &error {
            ExtError::Daemon { code, .. } => *code,
            _ => 0,
        };
        let class = error.class_name();
        match engine::lookup_class(class.as_bytes()) {
            Some(entry) if !engine::exception_pending() => {
                PhpException::new(error.message(), code, entry)
            }
            _ => {
                // The autoloader may have thrown while looking for the class; ours is the
                // more useful error, and the caller sees the class name in the message.
                engine::clear_exception();
                let message = format!("[{class}] {}", error.message());
                let runtime = engine::lookup_class(b"RuntimeException").unwrap_or(ce::exception());
                PhpException::new(message, code, runtime)
            }
        }
    }
}
