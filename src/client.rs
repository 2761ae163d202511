//! A minimal blocking client for the daemon's socket (the CLI, and `serve`'s probe of an
//! existing socket file).
//!
//! Owns: connecting with timeouts and one request/response round trip.
//! Must never: retry or reconnect on its own; callers decide what an error means.

use eventsrv_format::protocol::{read_message, write_message, FrameError, Request, Response};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

pub struct Client {
    stream: UnixStream,
}

impl Client {
    pub fn connect(socket: &Path, timeout: Duration) -> std::io::Result<Client> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client { stream })
    }

    pub fn request(&mut self, request: &Request) -> Result<Response, FrameError> {
        write_message(&mut self.stream, request)?;
        read_message(&mut self.stream)
    }
}

/// True if a daemon answers `Ping` on `socket` within `timeout`.
pub fn answers_ping(socket: &Path, timeout: Duration) -> bool {
    match Client::connect(socket, timeout) {
        Ok(mut client) => matches!(client.request(&Request::Ping), Ok(Response::Pong)),
        Err(_) => false,
    }
}
