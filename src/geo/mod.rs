//! Client location: GeoIP lookups and the geographic codes config uses.
