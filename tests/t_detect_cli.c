/*
 * t_detect_cli.c - `aviary classify` and the CLI's exit codes and error
 * messages, run as a process next to the tests (BUILD/aviary).
 */
#include "harness.h"
#include "detect_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the CLI ---- */

static char g_bin[1100];

static const char *aviary_bin(void)
{
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = '\0';
    /* BUILD/tests/t_detect_pipeline -> BUILD/aviary */
    *strrchr(exe, '/') = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(g_bin, sizeof g_bin, "%s/aviary", exe);
    if (access(g_bin, X_OK))
        SKIP("aviary binary not built next to the tests");
    return g_bin;
}

/* Run a shell command; its stdout goes to *out (malloc'd); returns the exit status. */
static int run_cmd(const char *cmd, char **out)
{
    FILE *f = popen(cmd, "r");
    CHECK(f);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    CHECK(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf);
        }
    }
    buf[n] = '\0';
    int st = pclose(f);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether the file at path begins with the n bytes magic. */
static int starts_with_bytes(const char *path, const char *magic, size_t n)
{
    unsigned char b[8] = {0};
    FILE *f = fopen(path, "rb");
    CHECK(f);
    size_t got = fread(b, 1, n, f);
    fclose(f);
    return got == n && memcmp(b, magic, n) == 0;
}

/* run_cmd of a command that must exit 0 with JSON on stdout: the JSON. */
static json_t *run_json(const char *cmd, char **out)
{
    CHECK_EQ_INT(run_cmd(cmd, out), 0);
    json_error_t je;
    json_t *j = json_loads(*out, JSON_DISABLE_EOF_CHECK, &je);
    CHECK_MSG(j, "not JSON: %s", *out);
    return j;
}

TEST(cli_exit_codes_and_errors)
{
    av_test_need_models();
    const char *bin = aviary_bin();
    const char *dir = av_test_tmpdir();
    char zero[600], rnd[600], txt[600], png[600], cmd[4096];
    snprintf(zero, sizeof zero, "%s/empty.jpg", dir);
    snprintf(rnd, sizeof rnd, "%s/random.jpg", dir);
    snprintf(txt, sizeof txt, "%s/notes.png", dir);
    snprintf(png, sizeof png, "%s/bird.png", dir); /* a BMP named .png: format from bytes */
    av_test_write_file(zero, "", 0);
    unsigned char junk[2048];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 7919u >> 3);
    av_test_write_file(rnd, junk, sizeof junk);
    av_test_write_file(txt, "hello, not an image\n", 20);
    size_t len;
    void *bmp = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &len);
    av_test_write_file(png, bmp, len);
    free(bmp);

    char *out;
    snprintf(cmd, sizeof cmd, "'%s' detect --json '%s' 2>/dev/null", bin, png);
    json_t *j = run_json(cmd, &out);
    CHECK(json_array_size(json_object_get(j, "detections")) >= 1);
    json_decref(j);
    free(out);

    snprintf(cmd, sizeof cmd, "'%s' detect --json '%s' '%s' '%s' '%s' 2>'%s/err.txt'", bin, zero,
             png, rnd, txt, dir);
    CHECK_EQ_INT(run_cmd(cmd, &out), 1);
    /* four lines: one per image, errors named */
    int lines = 0, errors = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        json_t *o = json_loads(l, 0, NULL);
        CHECK_MSG(o, "line not JSON: %s", l);
        lines++;
        if (json_object_get(o, "error"))
            errors++;
        json_decref(o);
    }
    CHECK_EQ_INT(lines, 4);
    CHECK_EQ_INT(errors, 3);
    free(out);
    snprintf(cmd, sizeof cmd, "cat '%s/err.txt'", dir);
    run_cmd(cmd, &out);
    CHECK_STR_CONTAINS(out, "[1/4] empty.jpg: error");
    CHECK_STR_CONTAINS(out, "[2/4] bird.png: 1 bird");
    CHECK_STR_CONTAINS(out, "[3/4] random.jpg: error");
    free(out);

    /* usage errors */
    snprintf(cmd, sizeof cmd, "'%s' detect 2>/dev/null", bin);
    CHECK_EQ_INT(run_cmd(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' detect --min-score abc x.jpg 2>/dev/null", bin);
    CHECK_EQ_INT(run_cmd(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' detect '%s/missing.jpg' 2>/dev/null", bin, dir);
    CHECK_EQ_INT(run_cmd(cmd, &out), 1);
    CHECK_STR_CONTAINS(out, "missing.jpg: error: cannot open");
    free(out);

    /* annotate to a file */
    snprintf(cmd, sizeof cmd, "'%s' detect --annotate '%s/ann.jpg' '%s' 2>/dev/null", bin, dir,
             png);
    CHECK_EQ_INT(run_cmd(cmd, &out), 0);
    free(out);
    char ann[600];
    snprintf(ann, sizeof ann, "%s/ann.jpg", dir);
    struct stat sb;
    CHECK(stat(ann, &sb) == 0 && sb.st_size > 1000);
    /* the input is a BMP: annotated as a JPEG, unless OUT's extension asks
     * for a PNG; another extension keeps what the input gives */
    CHECK(starts_with_bytes(ann, "\xff\xd8\xff", 3));
    const char *names[] = {"ann.png", "ann.out"}, *magic[] = {"\x89PNG", "\xff\xd8\xff"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "'%s' detect --annotate '%s/%s' '%s' 2>/dev/null", bin, dir,
                 names[i], png);
        CHECK_EQ_INT(run_cmd(cmd, &out), 0);
        free(out);
        snprintf(ann, sizeof ann, "%s/%s", dir, names[i]);
        CHECK(starts_with_bytes(ann, magic[i], strlen(magic[i])));
    }
}

TEST(cli_classify_parrot)
{
    const char *bin = aviary_bin();
    if (access("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite", R_OK))
        SKIP("species model not fetched");
    char cmd[2048], *out;
    snprintf(cmd, sizeof cmd,
             "'%s' classify --model models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite "
             "--labels models/inat_bird/inat_bird_labels.txt --top 3 '%s' 2>/dev/null",
             bin, av_test_shared("testdata/images/parrot.jpg"));
    json_t *j = run_json(cmd, &out);
    json_t *top = json_array_get(json_object_get(j, "top"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(top, "label")), "Ara macao (Scarlet Macaw)");
    CHECK_NEAR(json_number_value(json_object_get(top, "score")), 0.75, 0.06);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "top")), 3);
    json_decref(j);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' classify x.jpg 2>/dev/null", bin);
    CHECK_EQ_INT(run_cmd(cmd, &out), 2);
    free(out);
}

TEST_MAIN(T(cli_exit_codes_and_errors), T(cli_classify_parrot))
