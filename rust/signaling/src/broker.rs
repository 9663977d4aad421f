//! Lobbies shared by every instance through Redis (`--redis URL`).
//!
//! Each change is one Lua script, so it is atomic across instances: limits hold globally, two
//! joiners never get one id. A seat is held by `"<instance>:<session>"`; each instance
//! subscribes to `sig:to:<instance>`, and the scripts publish there the [`Notice`]s for the
//! seats it holds. Each instance also keeps `sig:instance:<instance>` alive; when an instance
//! dies its key expires, and a reaper on the others gives its seats up once they stayed
//! orphaned for the resume grace period (the players may resume them elsewhere first).
//!
//! Keys: `sig:lobbies` (set of names), `sig:lobby:<name>` (hash: mesh, sealed, next_id),
//! `sig:lobby:<name>:seats` (id → holder), `:tokens` (id → resume token), `:orphans` (id →
//! when its instance was first seen gone), `sig:seat:<token>` ("<lobby> <id>").

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, PubSub};
use redis::{Client, FromRedisValue, Script};

use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::protocol::ServerMessage;
use crate::seats::{Admitted, JoinRefusal, Notice, Reclaimed, SealRefusal, Seating};

/// An instance whose key is this old is dead.
pub const INSTANCE_TTL: Duration = Duration::from_secs(6);
/// How often an instance renews its key, and looks for seats of dead instances.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// Functions every script shares.
const PRELUDE: &str = r"
local P = 'sig:'
local function instance_of(holder) return string.match(holder, '^([^:]+)') end
local function notify(instance, notice)
  redis.call('PUBLISH', P .. 'to:' .. instance, cjson.encode(notice))
end
local function instances(lobby)
  local seats, seen, list = redis.call('HVALS', P .. 'lobby:' .. lobby .. ':seats'), {}, {}
  for _, holder in ipairs(seats) do
    local instance = instance_of(holder)
    if not seen[instance] then seen[instance] = true; table.insert(list, instance) end
  end
  return list
end
local function broadcast(lobby, except, message)
  for _, instance in ipairs(instances(lobby)) do
    notify(instance, {notice = 'broadcast', lobby = lobby, except = except, message = message})
  end
end
local function close_lobby(lobby)
  local key = P .. 'lobby:' .. lobby
  for _, instance in ipairs(instances(lobby)) do
    notify(instance, {notice = 'close', lobby = lobby})
  end
  for _, token in ipairs(redis.call('HVALS', key .. ':tokens')) do
    redis.call('DEL', P .. 'seat:' .. token)
  end
  redis.call('DEL', key, key .. ':seats', key .. ':tokens', key .. ':orphans')
  redis.call('SREM', P .. 'lobbies', lobby)
end
local function leave_seat(lobby, id, holder)
  local key = P .. 'lobby:' .. lobby
  if redis.call('HGET', key .. ':seats', id) ~= holder then return 0 end
  redis.call('HDEL', key .. ':seats', id)
  local token = redis.call('HGET', key .. ':tokens', id)
  if token then redis.call('DEL', P .. 'seat:' .. token) end
  redis.call('HDEL', key .. ':tokens', id)
  redis.call('HDEL', key .. ':orphans', id)
  broadcast(lobby, 0, {type = 'peer_left', id = tonumber(id)})
  if redis.call('HLEN', key .. ':seats') == 0
      or (redis.call('HGET', key, 'mesh') == '0' and id == '1') then
    close_lobby(lobby)
    return 2
  end
  return 1
end
";

/// ARGV: name (empty: create `fresh`), mesh, holder, token, max lobbies, max seats, fresh.
const JOIN: &str = r"
local name, mesh, holder, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if name == '' then
  if redis.call('SCARD', P .. 'lobbies') >= tonumber(ARGV[5]) then return {'server_full'} end
  name = ARGV[7]
  if redis.call('EXISTS', P .. 'lobby:' .. name) == 1 then return {'name_taken'} end
  redis.call('SADD', P .. 'lobbies', name)
  redis.call('HSET', P .. 'lobby:' .. name, 'mesh', mesh, 'sealed', '0', 'next_id', '1')
end
local key = P .. 'lobby:' .. name
local info = redis.call('HMGET', key, 'mesh', 'sealed')
if not info[1] then return {'no_such_lobby'} end
if info[2] == '1' then return {'sealed'} end
if redis.call('HLEN', key .. ':seats') >= tonumber(ARGV[6]) then return {'lobby_full'} end
local id = redis.call('HINCRBY', key, 'next_id', 1) - 1
local peers = redis.call('HKEYS', key .. ':seats')
broadcast(name, id, {type = 'peer_joined', id = id})
redis.call('HSET', key .. ':seats', id, holder)
redis.call('HSET', key .. ':tokens', id, token)
redis.call('SET', P .. 'seat:' .. token, name .. ' ' .. id)
local reply = {'ok', name, info[1], tostring(id)}
for _, peer in ipairs(peers) do table.insert(reply, peer) end
return reply
";

/// ARGV: lobby, from (empty: no sender to check), to, the Deliver notice.
const RELAY: &str = r"
local seats = P .. 'lobby:' .. ARGV[1] .. ':seats'
if ARGV[2] == ARGV[3] then return 0 end
if ARGV[2] ~= '' and redis.call('HEXISTS', seats, ARGV[2]) == 0 then return 0 end
local holder = redis.call('HGET', seats, ARGV[3])
if not holder then return 0 end
redis.call('PUBLISH', P .. 'to:' .. instance_of(holder), ARGV[4])
return 1
";

/// ARGV: lobby, id, seconds the sealed lobby's keys may outlive the instance that closes it.
const SEAL: &str = r"
local key = P .. 'lobby:' .. ARGV[1]
local sealed = redis.call('HGET', key, 'sealed')
if not sealed then return 'no_such_lobby' end
if ARGV[2] ~= '1' then return 'not_host' end
if sealed == '1' then return 'already' end
redis.call('HSET', key, 'sealed', '1')
for _, k in ipairs({key, key .. ':seats', key .. ':tokens', key .. ':orphans'}) do
  redis.call('EXPIRE', k, tonumber(ARGV[3]))
end
broadcast(ARGV[1], 0, {type = 'sealed'})
return 'ok'
";

const CLOSE: &str = "close_lobby(ARGV[1]) return 1";

/// ARGV: lobby, id, holder.
const LEAVE: &str = "return leave_seat(ARGV[1], ARGV[2], ARGV[3])";

/// ARGV: token, new holder.
const RESUME: &str = r"
local where = redis.call('GET', P .. 'seat:' .. ARGV[1])
if not where then return {} end
local lobby, id = string.match(where, '^(%S+) (%d+)$')
local key = P .. 'lobby:' .. lobby
local previous = redis.call('HGET', key .. ':seats', id)
if not previous then return {} end
redis.call('HSET', key .. ':seats', id, ARGV[2])
redis.call('HDEL', key .. ':orphans', id)
notify(instance_of(previous),
  {notice = 'release', lobby = lobby, id = tonumber(id), holder = ARGV[2]})
return {lobby, id, previous}
";

/// ARGV: grace in milliseconds. Gives up seats whose instance has been gone that long.
const REAP: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local reaped = 0
for _, lobby in ipairs(redis.call('SMEMBERS', P .. 'lobbies')) do
  local key = P .. 'lobby:' .. lobby
  if redis.call('EXISTS', key) == 0 then
    redis.call('SREM', P .. 'lobbies', lobby)
  else
    local seats = redis.call('HGETALL', key .. ':seats')
    for i = 1, #seats, 2 do
      local id, holder = seats[i], seats[i + 1]
      if redis.call('EXISTS', P .. 'instance:' .. instance_of(holder)) == 0 then
        local since = tonumber(redis.call('HGET', key .. ':orphans', id))
        if not since then
          redis.call('HSET', key .. ':orphans', id, now)
        elseif now - since >= tonumber(ARGV[1]) then
          reaped = reaped + 1
          if leave_seat(lobby, id, holder) == 2 then break end
        end
      end
    end
  end
end
return reaped
";

const COUNTS: &str = r"
local lobbies, players = redis.call('SMEMBERS', P .. 'lobbies'), 0
for _, lobby in ipairs(lobbies) do
  players = players + redis.call('HLEN', P .. 'lobby:' .. lobby .. ':seats')
end
return {#lobbies, players}
";

struct Scripts {
    join: Script,
    relay: Script,
    seal: Script,
    close: Script,
    leave: Script,
    resume: Script,
    reap: Script,
    counts: Script,
}

impl Scripts {
    fn new() -> Self {
        let script = |body: &str| Script::new(&format!("{PRELUDE}\n{body}"));
        Self {
            join: script(JOIN),
            relay: script(RELAY),
            seal: script(SEAL),
            close: script(CLOSE),
            leave: script(LEAVE),
            resume: script(RESUME),
            reap: script(REAP),
            counts: script(COUNTS),
        }
    }
}

pub struct Broker {
    client: Client,
    connection: ConnectionManager,
    instance: String,
    scripts: Scripts,
    metrics: std::sync::Arc<Metrics>,
}

/// What the user sees when Redis does not answer.
fn unavailable(err: redis::RedisError) -> String {
    format!("the lobby store is unavailable, try again: {err}")
}

impl Broker {
    /// Connects to Redis at `url` as `instance`, with the subscription that carries the
    /// instance's notices (see [`Broker::notices`]).
    pub async fn connect(
        url: &str,
        instance: &str,
        metrics: std::sync::Arc<Metrics>,
    ) -> Result<(Self, PubSub), String> {
        let client = Client::open(url).map_err(|err| format!("bad --redis URL {url}: {err}"))?;
        let connection = ConnectionManager::new(client.clone())
            .await
            .map_err(|err| format!("cannot reach Redis at {url}: {err}"))?;
        let broker = Self {
            client,
            connection,
            instance: instance.to_owned(),
            scripts: Scripts::new(),
            metrics,
        };
        let subscription = broker.subscribe().await?;
        broker.heartbeat().await?;
        Ok((broker, subscription))
    }

    /// A new subscription to this instance's notices.
    pub async fn subscribe(&self) -> Result<PubSub, String> {
        let mut pubsub = self.client.get_async_pubsub().await.map_err(unavailable)?;
        pubsub
            .subscribe(format!("sig:to:{}", self.instance))
            .await
            .map_err(unavailable)?;
        Ok(pubsub)
    }

    /// The notices published for this instance, until the subscription ends.
    pub async fn notices(pubsub: PubSub, mut apply: impl FnMut(Notice)) {
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            let Ok(payload) = message.get_payload::<String>() else {
                continue;
            };
            match serde_json::from_str::<Notice>(&payload) {
                Ok(notice) => apply(notice),
                Err(err) => crate::log::log_event(
                    "bad_notice",
                    &[("error", &err.to_string()), ("notice", &payload)],
                ),
            }
        }
    }

    /// Keeps this instance's key alive for another [`INSTANCE_TTL`].
    pub async fn heartbeat(&self) -> Result<(), String> {
        let mut connection = self.connection.clone();
        redis::cmd("SET")
            .arg(format!("sig:instance:{}", self.instance))
            .arg(1)
            .arg("PX")
            .arg(INSTANCE_TTL.as_millis() as u64)
            .query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }

    /// Gives up seats whose instance died more than `grace` ago; how many.
    pub async fn reap(&self, grace: Duration) -> Result<u64, String> {
        self.run(&self.scripts.reap.arg(grace.as_millis() as u64))
            .await
    }

    /// One script call, timed into the Redis round-trip histogram.
    async fn run<T: FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        let mut connection = self.connection.clone();
        let started = Instant::now();
        let result = invocation.invoke_async(&mut connection).await;
        self.metrics.redis_round_trip(started.elapsed());
        result.map_err(unavailable)
    }

    pub async fn join(
        &self,
        seating: &Seating<'_>,
        limits: &Limits,
    ) -> Result<Result<Admitted, JoinRefusal>, String> {
        let reply: Vec<String> = self
            .run(
                self.scripts
                    .join
                    .arg(seating.name)
                    .arg(if seating.mesh { "1" } else { "0" })
                    .arg(seating.holder)
                    .arg(seating.token)
                    .arg(limits.max_lobbies)
                    .arg(limits.max_lobby_peers)
                    .arg(seating.fresh),
            )
            .await?;
        let refusal = match reply.first().map(String::as_str) {
            Some("ok") => None,
            Some("server_full") => Some(JoinRefusal::ServerFull),
            Some("name_taken") => Some(JoinRefusal::NameTaken),
            Some("sealed") => Some(JoinRefusal::Sealed),
            Some("lobby_full") => Some(JoinRefusal::LobbyFull),
            _ => Some(JoinRefusal::NoSuchLobby),
        };
        if let Some(refusal) = refusal {
            return Ok(Err(refusal));
        }
        let number = |text: &String| text.parse::<u32>().map_err(|err| err.to_string());
        let (Some(lobby), Some(mesh), Some(id)) = (reply.get(1), reply.get(2), reply.get(3)) else {
            return Err("the lobby store answered a join with too little".to_owned());
        };
        let mut peers = reply[4..]
            .iter()
            .map(number)
            .collect::<Result<Vec<_>, _>>()?;
        peers.sort_unstable();
        Ok(Ok(Admitted {
            lobby: lobby.clone(),
            id: number(id)?,
            mesh: mesh == "1",
            peers,
        }))
    }

    pub async fn relay(
        &self,
        lobby: &str,
        from: u32,
        to: u32,
        message: ServerMessage,
    ) -> Result<bool, String> {
        let notice = Notice::Deliver {
            lobby: lobby.to_owned(),
            id: to,
            message,
        };
        let notice = serde_json::to_string(&notice).map_err(|err| err.to_string())?;
        let from = if from == 0 {
            String::new()
        } else {
            from.to_string()
        };
        let found: i64 = self
            .run(self.scripts.relay.arg(lobby).arg(from).arg(to).arg(notice))
            .await?;
        Ok(found == 1)
    }

    pub async fn seal(
        &self,
        lobby: &str,
        id: u32,
        limits: &Limits,
    ) -> Result<Result<bool, SealRefusal>, String> {
        // Should the instance that will close the lobby die, its keys go on their own.
        let lifetime = limits.seal_grace + INSTANCE_TTL + limits.resume_grace;
        let answer: String = self
            .run(
                self.scripts
                    .seal
                    .arg(lobby)
                    .arg(id)
                    .arg(lifetime.as_secs().max(1)),
            )
            .await?;
        Ok(match answer.as_str() {
            "ok" => Ok(true),
            "already" => Ok(false),
            "not_host" => Err(SealRefusal::NotHost),
            _ => Err(SealRefusal::NoSuchLobby),
        })
    }

    pub async fn close(&self, lobby: &str) -> Result<(), String> {
        self.run::<i64>(&self.scripts.close.arg(lobby))
            .await
            .map(|_| ())
    }

    pub async fn leave(&self, lobby: &str, id: u32, holder: &str) -> Result<(), String> {
        self.run::<i64>(self.scripts.leave.arg(lobby).arg(id).arg(holder))
            .await
            .map(|_| ())
    }

    pub async fn resume(&self, token: &str, holder: &str) -> Result<Option<Reclaimed>, String> {
        let reply: Vec<String> = self.run(self.scripts.resume.arg(token).arg(holder)).await?;
        let [lobby, id, previous] = reply.as_slice() else {
            return Ok(None);
        };
        Ok(id.parse().ok().map(|id| Reclaimed {
            lobby: lobby.clone(),
            id,
            previous: previous.clone(),
        }))
    }

    pub async fn counts(&self) -> Result<(usize, usize), String> {
        let (lobbies, players): (usize, usize) =
            self.run(&self.scripts.counts.prepare_invoke()).await?;
        Ok((lobbies, players))
    }
}
