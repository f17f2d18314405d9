// spm_shim: extern "C" wrappers over libsentencepiece (see spm_shim.h).
// Every entry point catches every exception: nothing C++ may unwind into C.
#include "vocab/spm_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

struct spm {
    sentencepiece::SentencePieceProcessor proc;
};

namespace {

int fail(char *msg, size_t len, const std::string &what)
{
    if (msg && len)
        std::snprintf(msg, len, "%s", what.c_str());
    return -1;
}

int fail_exception(char *msg, size_t len)
{
    try {
        throw;
    } catch (const std::bad_alloc &) {
        return fail(msg, len, "out of memory in SentencePiece");
    } catch (const std::exception &e) {
        return fail(msg, len, std::string("SentencePiece failed: ") + e.what());
    } catch (...) {
        return fail(msg, len, "SentencePiece failed with an unknown C++ exception");
    }
}

char *dup_string(const std::string &s)
{
    char *out = static_cast<char *>(std::malloc(s.size() + 1));
    if (out) {
        std::memcpy(out, s.data(), s.size());
        out[s.size()] = '\0';
    }
    return out;
}

// Feeds our sampled sentences to the trainer without a temporary file.
class VectorIterator : public sentencepiece::SentenceIterator {
  public:
    VectorIterator(const char *const *s, size_t n) : s_(s), n_(n) { load(); }
    bool done() const override { return i_ >= n_; }
    void Next() override
    {
        i_++;
        load();
    }
    const std::string &value() const override { return cur_; }
    sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

  private:
    void load()
    {
        if (i_ < n_)
            cur_.assign(s_[i_]);
    }
    const char *const *s_;
    size_t n_, i_ = 0;
    std::string cur_;
};

} // namespace

extern "C" {

int spm_load(const void *data, size_t len, spm_t **out, char *msg, size_t msglen)
{
    *out = nullptr;
    spm_t *s = nullptr;
    try {
        s = new spm_t;
        auto st = s->proc.LoadFromSerializedProto(std::string(static_cast<const char *>(data), len));
        if (!st.ok()) {
            delete s;
            return fail(msg, msglen, st.ToString());
        }
        *out = s;
        return 0;
    } catch (...) {
        delete s;
        return fail_exception(msg, msglen);
    }
}

void spm_free(spm_t *s)
{
    delete s;
}

int spm_size(const spm_t *s)
{
    try {
        return s->proc.GetPieceSize();
    } catch (...) {
        return 0;
    }
}

int spm_piece_id(const spm_t *s, const char *piece)
{
    try {
        int id = s->proc.PieceToId(piece);
        // PieceToId answers unk for a piece it lacks; only the unk piece itself is unk
        if (s->proc.IsUnknown(id) && s->proc.IdToPiece(id) != piece)
            return -1;
        return id;
    } catch (...) {
        return -1;
    }
}

const char *spm_piece(const spm_t *s, int id)
{
    try {
        if (id < 0 || id >= s->proc.GetPieceSize())
            return "";
        return s->proc.IdToPiece(id).c_str(); // owned by the model proto, lives as long as s
    } catch (...) {
        return "";
    }
}

int spm_kind(const spm_t *s, int id)
{
    try {
        if (s->proc.IsUnknown(id))
            return SPM_UNKNOWN;
        if (s->proc.IsControl(id))
            return SPM_CONTROL;
        if (s->proc.IsByte(id))
            return SPM_BYTE;
        if (s->proc.IsUnused(id))
            return SPM_UNUSED;
        return SPM_NORMAL;
    } catch (...) {
        return SPM_UNUSED;
    }
}

int spm_encode_ids(const spm_t *s, const char *text, size_t len, int **ids, int *n, char *msg, size_t msglen)
{
    *ids = nullptr;
    *n = 0;
    try {
        std::vector<int> v;
        auto st = s->proc.Encode(std::string(text, len), &v);
        if (!st.ok())
            return fail(msg, msglen, st.ToString());
        int *out = static_cast<int *>(std::malloc(sizeof(int) * (v.size() ? v.size() : 1)));
        if (!out)
            return fail(msg, msglen, "out of memory");
        if (!v.empty())
            std::memcpy(out, v.data(), sizeof(int) * v.size());
        *ids = out;
        *n = static_cast<int>(v.size());
        return 0;
    } catch (...) {
        return fail_exception(msg, msglen);
    }
}

int spm_encode_pieces(const spm_t *s, const char *text, size_t len, char ***pieces, int *n, char *msg,
                      size_t msglen)
{
    *pieces = nullptr;
    *n = 0;
    try {
        std::vector<std::string> v;
        auto st = s->proc.Encode(std::string(text, len), &v);
        if (!st.ok())
            return fail(msg, msglen, st.ToString());
        char **out = static_cast<char **>(std::calloc(v.size() + 1, sizeof *out));
        if (!out)
            return fail(msg, msglen, "out of memory");
        for (size_t i = 0; i < v.size(); i++)
            if (!(out[i] = dup_string(v[i]))) {
                for (size_t j = 0; j < i; j++)
                    std::free(out[j]);
                std::free(out);
                return fail(msg, msglen, "out of memory");
            }
        *pieces = out;
        *n = static_cast<int>(v.size());
        return 0;
    } catch (...) {
        return fail_exception(msg, msglen);
    }
}

int spm_decode_ids(const spm_t *s, const int *ids, int n, char **text, char *msg, size_t msglen)
{
    *text = nullptr;
    try {
        std::vector<int> v(ids, ids + n);
        std::string out;
        auto st = s->proc.Decode(v, &out);
        if (!st.ok())
            return fail(msg, msglen, st.ToString());
        if (!(*text = dup_string(out)))
            return fail(msg, msglen, "out of memory");
        return 0;
    } catch (...) {
        return fail_exception(msg, msglen);
    }
}

int spm_decode_pieces(const spm_t *s, const char *const *pieces, int n, char **text, char *msg, size_t msglen)
{
    *text = nullptr;
    try {
        std::vector<std::string> v(pieces, pieces + n);
        std::string out;
        auto st = s->proc.Decode(v, &out);
        if (!st.ok())
            return fail(msg, msglen, st.ToString());
        if (!(*text = dup_string(out)))
            return fail(msg, msglen, "out of memory");
        return 0;
    } catch (...) {
        return fail_exception(msg, msglen);
    }
}

int spm_train(const char *const *keys, const char *const *values, int n_opts, const char *const *sentences,
              size_t n, unsigned seed, void **blob, size_t *len, char *msg, size_t msglen)
{
    *blob = nullptr;
    *len = 0;
    try {
        sentencepiece::SetRandomGeneratorSeed(seed);
        VectorIterator it(sentences, n);
        std::string model;
        // the map form: the string form logs its whole command line at INFO level first
        std::unordered_map<std::string, std::string> kw;
        for (int i = 0; i < n_opts; i++)
            kw[keys[i]] = values[i];
        auto st = sentencepiece::SentencePieceTrainer::Train(kw, &it, &model);
        if (!st.ok())
            return fail(msg, msglen, st.ToString());
        void *out = std::malloc(model.size() ? model.size() : 1);
        if (!out)
            return fail(msg, msglen, "out of memory");
        std::memcpy(out, model.data(), model.size());
        *blob = out;
        *len = model.size();
        return 0;
    } catch (...) {
        return fail_exception(msg, msglen);
    }
}

} // extern "C"
