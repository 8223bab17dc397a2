//! A direct WebSocket client of the daemon: the floor the hub's upstream is compared with.
//!
//! Blocking, by hand, with `TCP_NODELAY`: the HTTP upgrade, masked text frames out, whole
//! messages in (continuations joined, pings answered). It does not parse the JSON it receives
//! beyond the `op` at the start, so it is a lower floor than any real client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

pub struct WsClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    message: Vec<u8>,
    next_id: u64,
}

impl WsClient {
    /// Connects to `ws://HOST:PORT[/path]` and does the daemon's hello.
    pub fn connect(url: &str) -> std::io::Result<WsClient> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| std::io::Error::other(format!("not a ws:// URL: {url}")))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let stream = TcpStream::connect(authority)?;
        stream.set_nodelay(true)?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::with_capacity(1 << 20, stream);
        write!(
            writer,
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )?;
        let mut status = String::new();
        reader.read_line(&mut status)?;
        if !status.starts_with("HTTP/1.1 101") {
            return Err(std::io::Error::other(format!(
                "upgrade refused: {status:?}"
            )));
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Err(std::io::Error::other("closed during the upgrade"));
            }
            if header == "\r\n" {
                break;
            }
        }
        let mut client = WsClient {
            reader,
            writer,
            message: Vec::new(),
            next_id: 0,
        };
        client.send_text(r#"{"op":"hello","session_id":"exai-bench-direct"}"#)?;
        let ack = client.recv()?;
        if !contains(ack, br#""ok":true"#) {
            return Err(std::io::Error::other(format!(
                "hello refused: {}",
                String::from_utf8_lossy(ack)
            )));
        }
        Ok(client)
    }

    pub fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.send_frame(0x1, text.as_bytes())
    }

    fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        const MASK: [u8; 4] = [0x5a, 0x1c, 0xe3, 0x07];
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(0x80 | opcode);
        let len = payload.len();
        if len < 126 {
            frame.push(0x80 | len as u8);
        } else if let Ok(short) = u16::try_from(len) {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&short.to_be_bytes());
        } else {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
        frame.extend_from_slice(&MASK);
        frame.extend(
            payload
                .iter()
                .enumerate()
                .map(|(index, byte)| byte ^ MASK[index % 4]),
        );
        self.writer.write_all(&frame)
    }

    /// Reads one whole data message.
    pub fn recv(&mut self) -> std::io::Result<&[u8]> {
        self.message.clear();
        loop {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head)?;
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            let masked = head[1] & 0x80 != 0;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut ext = [0u8; 2];
                    self.reader.read_exact(&mut ext)?;
                    u64::from(u16::from_be_bytes(ext))
                }
                127 => {
                    let mut ext = [0u8; 8];
                    self.reader.read_exact(&mut ext)?;
                    u64::from_be_bytes(ext)
                }
                short => u64::from(short),
            };
            let len = usize::try_from(len).map_err(std::io::Error::other)?;
            let mut mask = [0u8; 4];
            if masked {
                self.reader.read_exact(&mut mask)?;
            }
            match opcode {
                0x0..=0x2 => {
                    let start = self.message.len();
                    self.message.resize(start + len, 0);
                    self.reader.read_exact(&mut self.message[start..])?;
                    if masked {
                        for (index, byte) in self.message[start..].iter_mut().enumerate() {
                            *byte ^= mask[index % 4];
                        }
                    }
                    if fin {
                        return Ok(&self.message);
                    }
                }
                0x8 => return Err(std::io::Error::other("the daemon closed the connection")),
                _ => {
                    let mut control = vec![0u8; len];
                    self.reader.read_exact(&mut control)?;
                    if opcode == 0x9 {
                        self.send_frame(0xA, &control)?;
                    }
                }
            }
        }
    }

    /// Calls tool `name` and waits for its `call_tool_res`; returns that frame's length.
    pub fn call(&mut self, name: &str, arguments: &str) -> std::io::Result<usize> {
        self.next_id += 1;
        let frame = format!(
            r#"{{"op":"call_tool","request_id":"bench-ws-{}-{}","name":"{name}","arguments":{arguments}}}"#,
            std::process::id(),
            self.next_id
        );
        self.send_text(&frame)?;
        loop {
            let message = self.recv()?;
            let head = &message[..message.len().min(64)];
            if contains(head, br#""op":"call_tool_res""#) {
                return Ok(message.len());
            }
            if !contains(head, br#""op":"#) || contains(head, br#""op":"error""#) {
                return Err(std::io::Error::other(format!(
                    "daemon error: {}",
                    String::from_utf8_lossy(&message[..message.len().min(300)])
                )));
            }
        }
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
