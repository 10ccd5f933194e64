//! Typed keys and values: [`Decode`] turns a record's key or value bytes into a type, or fails
//! with a [`DecodeError`], which the runners hand to the [`Phase::Serde`](crate::Phase::Serde)
//! error handler. With the `json` feature, `Json<T>` decodes (and encodes) JSON through serde.

use std::str;

/// A type a record's key or value decodes into.
///
/// `bytes` is `None` for a null key or value (a tombstone's value, a record without a key).
/// The implementations:
///
/// | type | `None` | `Some(bytes)` |
/// |------|--------|---------------|
/// | `Vec<u8>` | empty | the bytes |
/// | `String` | error: missing | the text; invalid UTF-8 is an error |
/// | `Option<T>` (any `T: Decode`) | `None` | `T`'s decoding, in `Some` |
/// | `()` | `()` | `()` (the bytes are ignored) |
/// | `Json<T>` (feature `json`) | error: missing | `T` from JSON through serde |
///
/// An implementation must not quote the bytes in its error: errors are logged and written to
/// dead-letter headers, and the bytes may hold personal data or secrets.
///
/// # Examples
///
/// ```
/// use runner_kafka::{Decode, DecodeError};
///
/// assert_eq!(String::decode(Some(b"o-1")), Ok("o-1".to_owned()));
/// assert_eq!(Option::<String>::decode(None), Ok(None));
/// assert_eq!(Vec::<u8>::decode(None), Ok(Vec::new()));
/// assert_eq!(String::decode(None), Err(DecodeError::Missing { target: "String" }));
///
/// // A type of your own.
/// struct Celsius(f32);
///
/// impl Decode for Celsius {
///     fn decode(bytes: Option<&[u8]>) -> Result<Self, DecodeError> {
///         let text = String::decode(bytes)?;
///         let degrees = text.parse().map_err(|_| DecodeError::invalid("Celsius", "not a number"))?;
///         Ok(Celsius(degrees))
///     }
/// }
/// assert_eq!(Celsius::decode(Some(b"21.5")).map(|c| c.0), Ok(21.5));
/// ```
///
/// With the `json` feature:
///
/// ```
/// # #[cfg(feature = "json")] {
/// use runner_kafka::{Decode, Json};
///
/// #[derive(Debug, PartialEq, serde::Deserialize)]
/// struct Order { id: u32 }
///
/// let Json(order) = Json::<Order>::decode(Some(br#"{"id":7}"#)).unwrap();
/// assert_eq!(order, Order { id: 7 });
/// assert_eq!(Option::<Json<Order>>::decode(None), Ok(None)); // a tombstone
/// # }
/// ```
pub trait Decode: Sized + Send + 'static {
    /// Decodes a key or value; `None` is a null one.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] saying what could not be decoded and why.
    fn decode(bytes: Option<&[u8]>) -> Result<Self, DecodeError>;
}

/// Error returned by [`Decode::decode`]: what could not be decoded (the target type) and why.
/// It never quotes the bytes.
///
/// # Examples
///
/// ```
/// use runner_kafka::{Decode, DecodeError};
///
/// let error = String::decode(Some(b"ok\xff")).unwrap_err();
/// assert_eq!(error, DecodeError::InvalidUtf8 { target: "String", position: 2 });
/// assert_eq!(error.to_string(), "cannot decode String: invalid UTF-8 at byte 2");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The key or value is null, and the target needs one.
    #[error("cannot decode {target}: the key or value is missing")]
    Missing {
        /// The type it was decoded into.
        target: &'static str,
    },
    /// The bytes are not UTF-8.
    #[error("cannot decode {target}: invalid UTF-8 at byte {position}")]
    InvalidUtf8 {
        /// The type it was decoded into.
        target: &'static str,
        /// The offset of the first byte that is not valid UTF-8.
        position: usize,
    },
    /// The bytes are not what the target expects.
    #[error("cannot decode {target}: {reason}")]
    Invalid {
        /// The type it was decoded into.
        target: &'static str,
        /// Why, without quoting the bytes.
        reason: String,
    },
}

impl DecodeError {
    /// An [`Invalid`](DecodeError::Invalid) error: the bytes are not a `target`, because of
    /// `reason` (which must not quote them).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::DecodeError;
    ///
    /// let error = DecodeError::invalid("OrderId", "expected 16 bytes, got 3");
    /// assert_eq!(error.to_string(), "cannot decode OrderId: expected 16 bytes, got 3");
    /// ```
    #[must_use]
    pub fn invalid(target: &'static str, reason: impl Into<String>) -> Self {
        DecodeError::Invalid {
            target,
            reason: reason.into(),
        }
    }
}

impl Decode for Vec<u8> {
    fn decode(bytes: Option<&[u8]>) -> Result<Self, DecodeError> {
        Ok(bytes.map(<[u8]>::to_vec).unwrap_or_default())
    }
}

impl Decode for String {
    fn decode(bytes: Option<&[u8]>) -> Result<Self, DecodeError> {
        const TARGET: &str = "String";
        let bytes = bytes.ok_or(DecodeError::Missing { target: TARGET })?;
        match str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(error) => Err(DecodeError::InvalidUtf8 {
                target: TARGET,
                position: error.valid_up_to(),
            }),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(bytes: Option<&[u8]>) -> Result<Self, DecodeError> {
        match bytes {
            None => Ok(None),
            Some(bytes) => T::decode(Some(bytes)).map(Some),
        }
    }
}

impl Decode for () {
    fn decode(_: Option<&[u8]>) -> Result<Self, DecodeError> {
        Ok(())
    }
}

#[cfg(feature = "json")]
pub use self::json::{EncodeError, Json};

#[cfg(feature = "json")]
mod json {
    use std::any::type_name;

    use super::{Decode, DecodeError};

    /// A key or value in JSON, decoded into `T` (and encoded from it) through serde. Available
    /// with the `json` feature.
    ///
    /// A null key or value is a [`DecodeError::Missing`]; decode into `Option<Json<T>>` to
    /// accept one (a tombstone). A decoding error names `T` and says where the JSON is wrong
    /// and how (syntax, early end, or a type mismatch), but not serde's full message, which may
    /// quote the bytes (`invalid type: string "…"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{Decode, Json};
    ///
    /// #[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
    /// struct Order { id: u32, qty: u16 }
    ///
    /// let bytes = Json::encode(&Order { id: 7, qty: 2 })?;
    /// assert_eq!(bytes, br#"{"id":7,"qty":2}"#);
    /// let Json(order) = Json::<Order>::decode(Some(&bytes))?;
    /// assert_eq!(order, Order { id: 7, qty: 2 });
    ///
    /// let wrong = Json::<Order>::decode(Some(br#"{"id":"secret"}"#)).unwrap_err();
    /// assert!(!wrong.to_string().contains("secret"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Json<T>(pub T);

    impl<T> Json<T> {
        /// The value.
        ///
        /// # Examples
        ///
        /// ```
        /// use runner_kafka::Json;
        ///
        /// assert_eq!(Json(7).into_inner(), 7);
        /// ```
        #[must_use]
        pub fn into_inner(self) -> T {
            self.0
        }
    }

    impl<T: serde::Serialize> Json<T> {
        /// `value` as JSON bytes, for an [`OutRecord`](crate::OutRecord)'s key or value.
        ///
        /// # Errors
        ///
        /// An [`EncodeError`] when `T`'s `Serialize` fails, or when `T` is a map whose keys are
        /// not strings.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::collections::BTreeMap;
        /// use runner_kafka::{Json, OutRecord};
        ///
        /// let totals = BTreeMap::from([("apples", 3), ("pears", 5)]);
        /// let out = OutRecord::new("totals").with_value(Json::encode(&totals)?);
        /// assert_eq!(out.value.as_deref(), Some(&br#"{"apples":3,"pears":5}"#[..]));
        ///
        /// let by_pair = BTreeMap::from([((1, 2), "not a string key")]);
        /// assert!(Json::encode(&by_pair).is_err());
        /// # Ok::<(), runner_kafka::EncodeError>(())
        /// ```
        pub fn encode(value: &T) -> Result<Vec<u8>, EncodeError> {
            serde_json::to_vec(value).map_err(|error| EncodeError {
                target: type_name::<T>(),
                reason: error.to_string(),
            })
        }
    }

    impl<T> Decode for Json<T>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        fn decode(bytes: Option<&[u8]>) -> Result<Self, DecodeError> {
            let target = type_name::<T>();
            let bytes = bytes.ok_or(DecodeError::Missing { target })?;
            serde_json::from_slice(bytes)
                .map(Json)
                .map_err(|error| DecodeError::Invalid {
                    target,
                    reason: reason(&error),
                })
        }
    }

    /// What is wrong and where, without serde's message (which may quote the input).
    fn reason(error: &serde_json::Error) -> String {
        use serde_json::error::Category;

        let what = match error.classify() {
            Category::Syntax => "invalid JSON",
            Category::Eof => "JSON ends too early",
            Category::Data => "JSON of the wrong shape",
            Category::Io => "JSON could not be read",
        };
        format!("{what} at line {} column {}", error.line(), error.column())
    }

    /// Error returned by [`Json::encode`]: `T`'s `Serialize` failed, or `T` cannot be JSON. It
    /// names the type and gives serde's reason (about `T`, not about record bytes).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use runner_kafka::Json;
    ///
    /// let error = Json::encode(&HashMap::from([(vec![1], 2)])).unwrap_err();
    /// assert!(error.to_string().starts_with("cannot encode std::collections::hash::map::HashMap"));
    /// ```
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
    #[error("cannot encode {target} as JSON: {reason}")]
    pub struct EncodeError {
        target: &'static str,
        reason: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_decode_as_they_are_and_null_as_empty() {
        assert_eq!(Vec::<u8>::decode(Some(&[0, 255, 7])), Ok(vec![0, 255, 7]));
        assert_eq!(Vec::<u8>::decode(Some(&[])), Ok(Vec::new()));
        assert_eq!(Vec::<u8>::decode(None), Ok(Vec::new()));
    }

    #[test]
    fn optional_bytes_keep_null_apart_from_empty() {
        assert_eq!(Option::<Vec<u8>>::decode(None), Ok(None));
        assert_eq!(Option::<Vec<u8>>::decode(Some(&[])), Ok(Some(Vec::new())));
        assert_eq!(
            Option::<Vec<u8>>::decode(Some(b"ab")),
            Ok(Some(b"ab".to_vec()))
        );
    }

    #[test]
    fn strings_are_utf8_and_required() {
        assert_eq!(
            String::decode(Some("héllo".as_bytes())),
            Ok("héllo".to_owned())
        );
        assert_eq!(String::decode(Some(b"")), Ok(String::new()));
        assert_eq!(
            String::decode(None),
            Err(DecodeError::Missing { target: "String" })
        );
        assert_eq!(
            String::decode(None).unwrap_err().to_string(),
            "cannot decode String: the key or value is missing"
        );
    }

    #[test]
    fn invalid_utf8_gives_the_first_bad_byte_and_not_the_text() {
        // "abc" then a lone continuation byte, then more.
        let error = String::decode(Some(b"abc\x80secret")).unwrap_err();
        assert_eq!(
            error,
            DecodeError::InvalidUtf8 {
                target: "String",
                position: 3
            }
        );
        assert!(!error.to_string().contains("secret"));
        // A truncated multi-byte character at the end.
        let truncated = String::decode(Some(&"é".as_bytes()[..1])).unwrap_err();
        assert_eq!(
            truncated,
            DecodeError::InvalidUtf8 {
                target: "String",
                position: 0
            }
        );
    }

    #[test]
    fn optional_strings_accept_null_but_not_bad_text() {
        assert_eq!(Option::<String>::decode(None), Ok(None));
        assert_eq!(
            Option::<String>::decode(Some(b"k")),
            Ok(Some("k".to_owned()))
        );
        assert!(matches!(
            Option::<String>::decode(Some(b"\xff")),
            Err(DecodeError::InvalidUtf8 { position: 0, .. })
        ));
    }

    #[test]
    fn unit_ignores_the_bytes() {
        assert_eq!(<()>::decode(None), Ok(()));
        assert_eq!(<()>::decode(Some(b"\xff\xfe anything")), Ok(()));
    }

    #[test]
    fn invalid_builds_the_catch_all_error() {
        assert_eq!(
            DecodeError::invalid("Uuid", "expected 16 bytes"),
            DecodeError::Invalid {
                target: "Uuid",
                reason: "expected 16 bytes".to_owned()
            }
        );
    }

    #[cfg(feature = "json")]
    mod json {
        use std::collections::BTreeMap;

        use super::super::{Decode, DecodeError, Json};

        #[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
        struct Order {
            id: u32,
            item: String,
        }

        #[test]
        fn json_round_trips() {
            let order = Order {
                id: 7,
                item: "pear".into(),
            };
            let bytes = Json::encode(&order).unwrap();
            assert_eq!(bytes, br#"{"id":7,"item":"pear"}"#);
            assert_eq!(Json::<Order>::decode(Some(&bytes)), Ok(Json(order)));
        }

        #[test]
        fn null_json_is_missing_unless_optional() {
            let target = std::any::type_name::<Order>();
            assert_eq!(
                Json::<Order>::decode(None),
                Err(DecodeError::Missing { target })
            );
            assert_eq!(Option::<Json<Order>>::decode(None), Ok(None));
        }

        #[test]
        fn json_errors_say_what_and_where_but_never_quote_the_bytes() {
            let target = std::any::type_name::<Order>();
            let cases: [(&[u8], &str); 4] = [
                (
                    br#"{"id":"secret","item":"x"}"#,
                    "JSON of the wrong shape at line 1 column 14",
                ),
                (
                    br#"{"id":1,"item":"secret""#,
                    "JSON ends too early at line 1 column 23",
                ),
                (b"{secret}", "invalid JSON at line 1 column 2"),
                (br#"{"id":1}"#, "JSON of the wrong shape at line 1 column 8"),
            ];
            for (bytes, reason) in cases {
                let error = Json::<Order>::decode(Some(bytes)).unwrap_err();
                assert_eq!(
                    error,
                    DecodeError::Invalid {
                        target,
                        reason: reason.to_owned()
                    },
                    "{}",
                    String::from_utf8_lossy(bytes)
                );
                assert!(!error.to_string().contains("secret"), "{error}");
            }
        }

        #[test]
        fn encoding_a_map_with_non_string_keys_is_an_error() {
            let map = BTreeMap::from([((1, 2), 3)]);
            let error = Json::encode(&map).unwrap_err();
            assert!(
                error.to_string().starts_with("cannot encode alloc::collections::btree::map::BTreeMap<(i32, i32), i32> as JSON: "),
                "{error}"
            );
        }

        #[test]
        fn into_inner_gives_the_value() {
            assert_eq!(
                Json(Order {
                    id: 1,
                    item: "a".into()
                })
                .into_inner()
                .id,
                1
            );
        }
    }
}
