/*
 * pbjson: protobuf-c messages as JSON, walked through their descriptors,
 * so the JSON API spells every field exactly as the .proto does and a new
 * field shows up without code.  Also a deep copy by pack/unpack, for
 * handing out messages built from borrowed parts.
 */
#ifndef DPMP_PBJSON_H
#define DPMP_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* New JSON object, or NULL when out of memory. */
json_t	*pbjson_from_message(const ProtobufCMessage *msg);
/* A deep, independently allocated copy (free it with
 * protobuf_c_message_free_unpacked(copy, NULL)), or NULL. */
ProtobufCMessage *pbjson_clone(const ProtobufCMessage *msg);

#endif
