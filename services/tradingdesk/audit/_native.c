/* The audit log's per-record work in one C loop per batch: record encoding and the RFC 9162 leaf and node
 * hashes, with SHA-256 from OpenSSL's libcrypto (the library hashlib itself uses).
 *
 * Why: appending a batch spent about 3.3 us per record in Python (encode 1.2, leaf hash 1.2, parents and store
 * 1.0), mostly in making Python objects and calls, not in SHA-256 itself (0.2 us for a 480-byte record on this
 * hardware). Every function here has a pure-Python twin in record.py / merkle.py that gives the same bytes: the
 * twin is the definition, this is the fast path, and tests/audit/test_native_twins.py checks they agree.
 *
 * encode_records returns None for anything it does not handle byte for byte like the twin (a string that JSON
 * would escape, a non-ASCII payload, an int beyond 64 bits, a field of another type): the caller then uses the
 * twin, which formats it or raises the twin's own error.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <structmember.h>

#define HASH_SIZE 32

#define FIELDS 7
/* Entry's fields in record.py's order; the slot offsets of the one Entry type seen (a slots dataclass), read
 * once: a slot read is then a load, not a generic getattr (7 per record were 40% of the encoding). */
static PyObject *field_names[FIELDS];
static PyTypeObject *entry_type;
static Py_ssize_t entry_offsets[FIELDS];

/* ------------------------------------------------------------------ hashing */

static void leaf(const char *data, Py_ssize_t size, unsigned char *out) {
    static const unsigned char prefix = 0x00;
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, &prefix, 1);
    SHA256_Update(&ctx, data, (size_t)size);
    SHA256_Final(out, &ctx);
}

static void node(const char *left, const char *right, unsigned char *out) {
    unsigned char buf[1 + 2 * HASH_SIZE];
    buf[0] = 0x01;
    memcpy(buf + 1, left, HASH_SIZE);
    memcpy(buf + 1 + HASH_SIZE, right, HASH_SIZE);
    SHA256_CTX ctx; /* not SHA256(): in OpenSSL 3 the one-shot fetches the algorithm on every call */
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, buf, sizeof buf);
    SHA256_Final(out, &ctx);
}

/* Leaf hashes of ``n`` buffers into ``digests``; call without the GIL.
 *
 * One thread: hashing a batch's two halves on two threads was measured slower here, in the spool's append
 * (0.43 of a plain fsync'd append against 0.54, medians of 14 runs alternating the two builds) and no faster in
 * verify. On two vCPUs whose second thread adds about a third, a thread started for every call cost more than
 * it gave, and the append already has the disk's thread running beside it. */
static void leaves_of(const char *const *data, const Py_ssize_t *sizes, Py_ssize_t n, unsigned char *digests) {
    for (Py_ssize_t i = 0; i < n; i++)
        leaf(data[i], sizes[i], digests + i * HASH_SIZE);
}

/* A list of ``n`` 32-byte bytes objects from ``digests`` (n * 32 bytes). */
static PyObject *digest_list(const unsigned char *digests, Py_ssize_t n) {
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *h = PyBytes_FromStringAndSize((const char *)digests + i * HASH_SIZE, HASH_SIZE);
        if (h == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, h);
    }
    return out;
}

static PyObject *leaf_hashes(PyObject *self, PyObject *records) {
    PyObject *seq = PySequence_Fast(records, "leaf_hashes takes a sequence of bytes");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    const char **data = PyMem_Malloc(sizeof(char *) * (n ? n : 1));
    Py_ssize_t *sizes = PyMem_Malloc(sizeof(Py_ssize_t) * (n ? n : 1));
    unsigned char *digests = PyMem_Malloc((size_t)HASH_SIZE * (n ? n : 1));
    PyObject *out = NULL;
    if (data == NULL || sizes == NULL || digests == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(items[i])) {
            PyErr_Format(PyExc_TypeError, "record %zd is %.100s, not bytes", i, Py_TYPE(items[i])->tp_name);
            goto done;
        }
        data[i] = PyBytes_AS_STRING(items[i]);
        sizes[i] = PyBytes_GET_SIZE(items[i]);
    }
    /* ``seq`` holds every record: their buffers stay put while other threads run. */
    Py_BEGIN_ALLOW_THREADS
    leaves_of(data, sizes, n, digests);
    Py_END_ALLOW_THREADS
    out = digest_list(digests, n);
done:
    PyMem_Free(data);
    PyMem_Free(sizes);
    PyMem_Free(digests);
    Py_DECREF(seq);
    return out;
}

static PyObject *parent_hashes(PyObject *self, PyObject *nodes) {
    PyObject *seq = PySequence_Fast(nodes, "parent_hashes takes a sequence of 32-byte hashes");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Py_ssize_t parents = n / 2;
    PyObject **items = PySequence_Fast_ITEMS(seq);
    const char **data = PyMem_Malloc(sizeof(char *) * (n ? n : 1));
    unsigned char *digests = PyMem_Malloc((size_t)HASH_SIZE * (parents ? parents : 1));
    PyObject *out = NULL;
    if (data == NULL || digests == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < 2 * parents; i++) {
        if (!PyBytes_Check(items[i]) || PyBytes_GET_SIZE(items[i]) != HASH_SIZE) {
            PyErr_Format(PyExc_ValueError, "node %zd is not a 32-byte hash", i);
            goto done;
        }
        data[i] = PyBytes_AS_STRING(items[i]);
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < parents; i++)
        node(data[2 * i], data[2 * i + 1], digests + i * HASH_SIZE);
    Py_END_ALLOW_THREADS
    out = digest_list(digests, parents);
done:
    PyMem_Free(data);
    PyMem_Free(digests);
    Py_DECREF(seq);
    return out;
}

/* The parents of ``2 * parents`` joined nodes into ``digests``; call without the GIL. One thread, as the leaves. */
static void parents_of(const char *nodes, Py_ssize_t parents, unsigned char *digests) {
    for (Py_ssize_t i = 0; i < parents; i++)
        node(nodes + 2 * i * HASH_SIZE, nodes + (2 * i + 1) * HASH_SIZE, digests + i * HASH_SIZE);
}

static PyObject *parent_hashes_joined(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *out = NULL;
    if (view.len % HASH_SIZE) {
        PyErr_Format(PyExc_ValueError, "%zd bytes are not a whole number of 32-byte hashes", view.len);
        goto done;
    }
    Py_ssize_t parents = view.len / (2 * HASH_SIZE);
    if ((out = PyBytes_FromStringAndSize(NULL, parents * HASH_SIZE)) == NULL)
        goto done;
    const char *nodes = view.buf;
    unsigned char *digests = (unsigned char *)PyBytes_AS_STRING(out);
    /* ``view`` holds the nodes' buffer: it stays put while other threads run. */
    Py_BEGIN_ALLOW_THREADS
    parents_of(nodes, parents, digests);
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&view);
    return out;
}

/* ------------------------------------------------------------------ encoding */

typedef struct {
    char *data;
    size_t size;
    size_t capacity;
} Buffer;

static int reserve(Buffer *b, size_t more) {
    if (b->size + more <= b->capacity)
        return 0;
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity < b->size + more)
        capacity *= 2;
    char *data = PyMem_Realloc(b->data, capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->capacity = capacity;
    return 0;
}

static void put(Buffer *b, const char *text, size_t size) {
    memcpy(b->data + b->size, text, size);
    b->size += size;
}

#define PUT_LITERAL(b, s) put((b), (s), sizeof(s) - 1)

/* Decimal digits of ``v`` as Python's str(int) gives them; the caller reserved 21 bytes. */
static void put_int(Buffer *b, long long v) {
    char digits[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        b->data[b->size++] = '-';
    while (n)
        b->data[b->size++] = digits[--n];
}

/* 1 if ``s`` is a str that json's encode_basestring_ascii copies unchanged between its quotes (every character
 * printable ASCII, no quote or backslash); 0 otherwise. */
static int plain_string(PyObject *s) {
    if (!PyUnicode_CheckExact(s) || !PyUnicode_IS_ASCII(s))
        return 0;
    const unsigned char *c = PyUnicode_1BYTE_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (c[i] < 0x20 || c[i] > 0x7e || c[i] == '"' || c[i] == '\\')
            return 0;
    return 1;
}

/* ``s`` between quotes; the caller reserved its length + 2. */
static void put_quoted(Buffer *b, PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    b->data[b->size++] = '"';
    put(b, (const char *)PyUnicode_1BYTE_DATA(s), (size_t)n);
    b->data[b->size++] = '"';
}

/* 1 and ``*out`` if ``v`` is an int that fits 64 bits; 0 otherwise (error cleared). */
static int small_int(PyObject *v, long long *out) {
    if (!PyLong_CheckExact(v))
        return 0;
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || (*out == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* Reads the slot offsets of ``type`` if it is a slots class holding every field; 0 if it is not. */
static int learn_entry_type(PyTypeObject *type) {
    Py_ssize_t offsets[FIELDS];
    for (int i = 0; i < FIELDS; i++) {
        PyObject *descr = _PyType_Lookup(type, field_names[i]); /* borrowed */
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type))
            return 0;
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX)
            return 0;
        offsets[i] = member->offset;
    }
    memcpy(entry_offsets, offsets, sizeof offsets);
    Py_XSETREF(entry_type, (PyTypeObject *)Py_NewRef(type));
    return 1;
}

/* The fields of ``entry`` into ``f`` (new references); -1 with an error set if one is missing. */
static int fields_of(PyObject *entry, PyObject **f) {
    if (Py_TYPE(entry) == entry_type || learn_entry_type(Py_TYPE(entry))) {
        for (int i = 0; i < FIELDS; i++) {
            PyObject *v = *(PyObject **)((char *)entry + entry_offsets[i]);
            if (v == NULL) {
                for (int j = 0; j < i; j++)
                    Py_CLEAR(f[j]);
                PyErr_SetObject(PyExc_AttributeError, field_names[i]);
                return -1;
            }
            f[i] = Py_NewRef(v);
        }
        return 0;
    }
    for (int i = 0; i < FIELDS; i++)
        if ((f[i] = PyObject_GetAttr(entry, field_names[i])) == NULL) {
            for (int j = 0; j < i; j++)
                Py_CLEAR(f[j]);
            return -1;
        }
    return 0;
}

/* Appends one record and its newline; 1 done, 0 not handled here (the twin formats it), -1 error. */
static int put_record(Buffer *b, long long index, PyObject *entry) {
    PyObject *f[FIELDS] = {NULL};
    if (fields_of(entry, f) < 0)
        return -1;
    int result = 0;
    long long ts_ns, seq;
    if (!small_int(f[0], &ts_ns) || !small_int(f[3], &seq))
        goto done;
    if (!plain_string(f[1]) || !plain_string(f[2]) || !plain_string(f[4]) || !plain_string(f[5]))
        goto done;
    if (!PyUnicode_CheckExact(f[6]) || !PyUnicode_IS_ASCII(f[6]))
        goto done;
    size_t size = 128 + 3 * 21; /* the keys, quotes and three numbers */
    for (int i = 1; i < FIELDS; i++)
        if (i != 3)
            size += (size_t)PyUnicode_GET_LENGTH(f[i]);
    result = -1;
    if (reserve(b, size) < 0)
        goto done;
    PUT_LITERAL(b, "{\"v\":2,\"index\":");
    put_int(b, index);
    PUT_LITERAL(b, ",\"ts_ns\":");
    put_int(b, ts_ns);
    PUT_LITERAL(b, ",\"source\":");
    put_quoted(b, f[1]);
    PUT_LITERAL(b, ",\"incarnation\":");
    put_quoted(b, f[2]);
    PUT_LITERAL(b, ",\"seq\":");
    put_int(b, seq);
    PUT_LITERAL(b, ",\"kind\":");
    put_quoted(b, f[4]);
    PUT_LITERAL(b, ",\"order_id\":");
    put_quoted(b, f[5]);
    PUT_LITERAL(b, ",\"payload\":");
    put(b, (const char *)PyUnicode_1BYTE_DATA(f[6]), (size_t)PyUnicode_GET_LENGTH(f[6]));
    PUT_LITERAL(b, "}\n");
    result = 1;
done:
    for (int i = 0; i < FIELDS; i++)
        Py_XDECREF(f[i]);
    return result;
}

/* ``(data, records)``, or with ``with_leaves`` ``(data, records, leaf hashes joined)``; None where the twin must. */
static PyObject *encode(PyObject *args, const char *format, int with_leaves) {
    long long first_index;
    PyObject *entries;
    if (!PyArg_ParseTuple(args, format, &first_index, &entries))
        return NULL;
    PyObject *seq = PySequence_Fast(entries, "takes a sequence of entries");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    Buffer b = {NULL, 0, 0};
    size_t *ends = PyMem_Malloc(sizeof(size_t) * (n ? n : 1));
    const char **starts = NULL;
    Py_ssize_t *sizes = NULL;
    unsigned char *digests = NULL;
    PyObject *data = NULL, *records = NULL, *leaves = NULL, *out = NULL;
    if (ends == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int status = put_record(&b, first_index + i, items[i]);
        if (status < 0)
            goto done;
        if (status == 0) {
            out = Py_NewRef(Py_None);
            goto done;
        }
        ends[i] = b.size;
        /* room for the rest at once, sized on the first (a batch's records are alike): growing by doubling
         * copied the buffer and touched fresh pages several times over */
        if (i == 0 && n > 1 && reserve(&b, b.size * (size_t)(n - 1) + b.size * (size_t)n / 8) < 0)
            goto done;
    }
    if (with_leaves) {
        starts = PyMem_Malloc(sizeof(char *) * (n ? n : 1));
        sizes = PyMem_Malloc(sizeof(Py_ssize_t) * (n ? n : 1));
        digests = PyMem_Malloc((size_t)HASH_SIZE * (n ? n : 1));
        if (starts == NULL || sizes == NULL || digests == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            size_t start = i ? ends[i - 1] : 0;
            starts[i] = b.data + start;
            sizes[i] = (Py_ssize_t)(ends[i] - 1 - start); /* without the newline */
        }
        Py_BEGIN_ALLOW_THREADS
        leaves_of(starts, sizes, n, digests);
        Py_END_ALLOW_THREADS
        leaves = PyBytes_FromStringAndSize((const char *)digests, n * HASH_SIZE);
        if (leaves == NULL)
            goto done;
    }
    data = PyBytes_FromStringAndSize(b.data ? b.data : "", (Py_ssize_t)b.size);
    records = PyList_New(n);
    if (data == NULL || records == NULL)
        goto done;
    size_t start = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *r = PyBytes_FromStringAndSize(b.data + start, (Py_ssize_t)(ends[i] - 1 - start));
        if (r == NULL)
            goto done;
        PyList_SET_ITEM(records, i, r);
        start = ends[i];
    }
    out = with_leaves ? PyTuple_Pack(3, data, records, leaves) : PyTuple_Pack(2, data, records);
done:
    Py_XDECREF(data);
    Py_XDECREF(records);
    Py_XDECREF(leaves);
    PyMem_Free(b.data);
    PyMem_Free(ends);
    PyMem_Free(starts);
    PyMem_Free(sizes);
    PyMem_Free(digests);
    Py_DECREF(seq);
    return out;
}

static PyObject *encode_records(PyObject *self, PyObject *args) {
    return encode(args, "LO:encode_records", 0);
}

static PyObject *encode_and_hash(PyObject *self, PyObject *args) {
    return encode(args, "LO:encode_and_hash", 1);
}

/* ------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"leaf_hashes", leaf_hashes, METH_O, "SHA-256(0x00 || record) of each record, as a list of 32-byte bytes."},
    {"parent_hashes", parent_hashes, METH_O,
     "SHA-256(0x01 || left || right) of each pair of nodes; an odd last node has no parent yet."},
    {"encode_records", encode_records, METH_VARARGS,
     "(first_index, entries) -> (data, records) as record.encode_records gives, or None where the twin must."},
    {"encode_and_hash", encode_and_hash, METH_VARARGS,
     "(first_index, entries) -> (data, records, b''.join(leaf_hashes(records))) in one pass, or None where the "
     "twin must."},
    {"parent_hashes_joined", parent_hashes_joined, METH_O,
     "parent_hashes over 32-byte hashes joined in one buffer, joined the same way."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tradingdesk.audit._native",
                                    "The audit log's batch encode and hash loops (see the file's comment).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__native(void) {
    const char *names[FIELDS] = {"ts_ns", "source", "incarnation", "seq", "kind", "order_id", "payload_json"};
    for (int i = 0; i < FIELDS; i++)
        if ((field_names[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return NULL;
    return PyModule_Create(&module);
}
