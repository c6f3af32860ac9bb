//! The JWT authorizer of `dev`: a key of its own, a token it prints, and the checks API Gateway's
//! JWT authorizer makes (issuer, audience, expiry), on tokens signed with that key.

/// `api.jwt` locally. API Gateway checks a token's signature against the issuer's published
/// keys, which `dev` cannot fetch (it may be offline, and a real user's token is not something
/// to paste into a terminal): instead `dev` makes a key of its own when it starts, prints a
/// token signed with it (HS256) for the spec's issuer and audience, and accepts only tokens
/// signed with that key, from that issuer, for that audience, not expired. A request without a
/// valid token gets API Gateway's `401 {"message":"Unauthorized"}`.
pub struct LocalJwt {
    key: [u8; 32],
    pub issuer: String,
    pub audience: Vec<String>,
}

/// How long a local token lives.
const LOCAL_TOKEN_SECONDS: u64 = 3600;

impl LocalJwt {
    pub fn new(issuer: &str, audience: &[String]) -> LocalJwt {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        LocalJwt {
            key,
            issuer: issuer.to_string(),
            audience: audience.to_vec(),
        }
    }

    fn mac(&self, signed: &str) -> Vec<u8> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(signed.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A token for `sub`, the spec's issuer and first audience, valid for an hour from `now`.
    pub fn mint(&self, sub: &str, now: u64) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": self.issuer,
            "aud": self.audience.first().cloned().unwrap_or_default(),
            "sub": sub,
            "iat": now,
            "exp": now + LOCAL_TOKEN_SECONDS,
        });
        let payload = b64.encode(claims.to_string());
        let signed = format!("{header}.{payload}");
        let signature = b64.encode(self.mac(&signed));
        format!("{signed}.{signature}")
    }

    /// Checks an `Authorization` header (the token, with or without `Bearer `): its subject
    /// (`sub`, as API Gateway passes it on) when it is accepted; why not, when it is refused
    /// (for the log line).
    pub fn check(
        &self,
        authorization: Option<&str>,
        now: u64,
    ) -> Result<Option<String>, &'static str> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = authorization.ok_or("no Authorization header")?.trim();
        let token = token
            .strip_prefix("Bearer ")
            .or_else(|| token.strip_prefix("bearer "))
            .unwrap_or(token)
            .trim();
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a JWT");
        };
        let signed_part = &token[..header.len() + 1 + payload.len()];
        let header: serde_json::Value = b64
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or("not a JWT")?;
        if header["alg"] != "HS256" {
            return Err("not signed by this dev server");
        }
        let signature = b64.decode(signature).map_err(|_| "not a JWT")?;
        let expected = self.mac(signed_part);
        if !constant_time_eq(&signature, &expected) {
            return Err("not signed by this dev server");
        }
        let claims: serde_json::Value = b64
            .decode(payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or("not a JWT")?;
        if claims["iss"].as_str() != Some(self.issuer.as_str()) {
            return Err("wrong issuer");
        }
        let audiences: Vec<&str> = match &claims["aud"] {
            serde_json::Value::String(a) => vec![a.as_str()],
            serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
            _ => claims["client_id"].as_str().into_iter().collect(),
        };
        if !audiences
            .iter()
            .any(|a| self.audience.iter().any(|w| w == a))
        {
            return Err("wrong audience");
        }
        match claims["exp"].as_u64() {
            Some(exp) if exp > now => {}
            _ => return Err("expired"),
        }
        if claims["nbf"].as_u64().is_some_and(|nbf| nbf > now) {
            return Err("not valid yet");
        }
        Ok(claims["sub"].as_str().map(str::to_string))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
