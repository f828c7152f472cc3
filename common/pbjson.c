#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"

/* jansson refuses NaN and infinities; JSON has no spelling for them. */
static json_t *
real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* Worker names and the like come from miners; a string that is not UTF-8
 * must still render, so invalid bytes become '?'. */
static json_t *
string_value(const char *s)
{
	json_t	*v;
	char	*copy;
	size_t	 i, len;

	if (s == NULL)
		return json_string("");
	if ((v = json_string(s)) != NULL)
		return v;
	len = strlen(s);
	if ((copy = strdup(s)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

static json_t *
hex_value(const ProtobufCBinaryData *bd)
{
	static const char digits[] = "0123456789abcdef";
	json_t	*v;
	char	*hex;
	size_t	 i;

	if ((hex = malloc(bd->len * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < bd->len; i++) {
		hex[2 * i] = digits[bd->data[i] >> 4];
		hex[2 * i + 1] = digits[bd->data[i] & 0xf];
	}
	hex[2 * bd->len] = '\0';
	v = json_string(hex);
	free(hex);
	return v;
}

static json_t *
scalar(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v = *(const uint64_t *)p;

		/* json_int_t is signed; nothing we send gets near 2^63 */
		return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
	}
	case PROTOBUF_C_TYPE_FLOAT:
		return real_or_null(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return real_or_null(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev;

		ev = protobuf_c_enum_descriptor_get_value(f->descriptor,
		    *(const int *)p);
		return ev != NULL ? json_string(ev->name) :
		    json_integer(*(const int *)p);
	}
	case PROTOBUF_C_TYPE_STRING:
		return string_value(*(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES:
		return hex_value(p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;

		return m != NULL ? pbjson_from_message(m) : json_null();
	}
	}
	return json_null();
}

static size_t
elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	}
	return 0;
}

json_t *
pbjson_from_message(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor	*d = msg->descriptor;
	const ProtobufCFieldDescriptor		*f;
	const char				*base = (const char *)msg;
	const char				*elems;
	json_t					*obj, *v, *arr;
	size_t					 i, j, n;

	if ((obj = json_object()) == NULL)
		return NULL;
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			elems = *(char *const *)(base + f->offset);

			if ((arr = json_array()) == NULL)
				goto err;
			for (j = 0; j < n; j++) {
				v = scalar(f, elems + j * elem_size(f));
				if (v == NULL || json_array_append_new(arr,
				    v) == -1) {
					json_decref(arr);
					goto err;
				}
			}
			v = arr;
		} else
			v = scalar(f, base + f->offset);
		if (v == NULL || json_object_set_new(obj, f->name, v) == -1)
			goto err;
	}
	return obj;
err:
	json_decref(obj);
	return NULL;
}

ProtobufCMessage *
pbjson_clone(const ProtobufCMessage *msg)
{
	ProtobufCMessage	*copy;
	uint8_t			*buf;
	size_t			 len;

	len = protobuf_c_message_get_packed_size(msg);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return NULL;
	protobuf_c_message_pack(msg, buf);
	copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
	free(buf);
	return copy;
}
