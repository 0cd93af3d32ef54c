//! One DNS message to one server and its answer, over UDP or TCP (hickory-net). A fresh
//! exchange per call: the solver sends a handful of messages per challenge, and nothing is
//! left open between a controller's reconciles.

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use hickory_net::NetError;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_net::xfer::{DnsExchange, DnsHandle};
use hickory_proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};

use super::Dns01Error;
use super::rfc2136::Protocol;

/// Where and how to send.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Server {
    pub addr: SocketAddr,
    pub protocol: Protocol,
    pub timeout: Duration,
}

/// Sends `message` as it is (already signed, if it should be) and returns the first answer.
/// DNS error codes come back as answers, not errors: the caller decides what they mean.
pub(crate) async fn exchange(server: Server, message: Message) -> Result<DnsResponse, Dns01Error> {
    let provider = TokioRuntimeProvider::default();
    // The options matter only for UDP retries; the message already carries EDNS and RD.
    let request = DnsRequest::new(message, DnsRequestOptions::default());
    let timeout_err = || Dns01Error::Timeout {
        server: server.addr,
        protocol: server.protocol,
        after: server.timeout,
    };
    let send = async {
        let exchange: DnsExchange<TokioRuntimeProvider> = match server.protocol {
            Protocol::Udp => {
                let stream = UdpClientStream::builder(server.addr, provider.clone())
                    .with_timeout(Some(server.timeout))
                    .build();
                let (exchange, background) = DnsExchange::from_stream(stream);
                tokio::spawn(background);
                exchange
            }
            Protocol::Tcp => {
                TcpClientStream::exchange(server.addr, None, server.timeout, None, provider.clone())
                    .await
                    .map_err(|e| net_error(server, e))?
            }
        };
        let answer = exchange.send(request).next().await;
        // The provider owns the background task driving a TCP exchange: keep it until here.
        drop(provider);
        match answer {
            Some(Ok(response)) => Ok(response),
            Some(Err(e)) => Err(net_error(server, e)),
            // hickory ends the answer stream without an item when its timeout fires.
            None => Err(timeout_err()),
        }
    };
    // hickory has its own timeouts; this one bounds connect + send + answer as a whole.
    match tokio::time::timeout(server.timeout + Duration::from_millis(200), send).await {
        Ok(result) => result,
        Err(_) => Err(timeout_err()),
    }
}

/// Asks `server` for `name`/`rtype`; `recursion_desired` is off when talking to an
/// authoritative server (its own data only) and on for resolvers. A truncated UDP answer is
/// asked again over TCP.
pub(crate) async fn query(
    server: Server,
    name: &Name,
    rtype: RecordType,
    recursion_desired: bool,
) -> Result<DnsResponse, Dns01Error> {
    let response = exchange(server, query_message(name, rtype, recursion_desired)).await?;
    if response.truncation && server.protocol == Protocol::Udp {
        let tcp = Server {
            protocol: Protocol::Tcp,
            ..server
        };
        return exchange(tcp, query_message(name, rtype, recursion_desired)).await;
    }
    Ok(response)
}

fn query_message(name: &Name, rtype: RecordType, recursion_desired: bool) -> Message {
    let mut message = Message::query();
    message.add_query(Query::query(name.clone(), rtype));
    message.metadata.recursion_desired = recursion_desired;
    message
        .edns
        .get_or_insert_with(Edns::new)
        .set_max_payload(1232)
        .set_version(0);
    message
}

fn net_error(server: Server, e: NetError) -> Dns01Error {
    match e {
        NetError::Timeout => Dns01Error::Timeout {
            server: server.addr,
            protocol: server.protocol,
            after: server.timeout,
        },
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Dns01Error::Timeout {
            server: server.addr,
            protocol: server.protocol,
            after: server.timeout,
        },
        NetError::Io(io) => Dns01Error::Unreachable {
            server: server.addr,
            protocol: server.protocol,
            reason: io.to_string(),
        },
        NetError::Proto(p) => Dns01Error::BadResponse {
            server: server.addr,
            reason: p.to_string(),
        },
        other => Dns01Error::Unreachable {
            server: server.addr,
            protocol: server.protocol,
            reason: other.to_string(),
        },
    }
}
