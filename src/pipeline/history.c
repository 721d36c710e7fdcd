/* The history's columns (see history.h). */
#include "history.h"

const struct history_column history_columns[HISTORY_COLUMNS] = {
    {"stage", false},      {"epoch", false},          {"lr", false},
    {"train_loss", false}, {"train_acc", false},      {"test_loss", false},
    {"test_acc", false},   {"seconds", false},        {"gamma_below_tau", true},
    {"abs_gamma_p10", true}, {"abs_gamma_p50", true}, {"abs_gamma_p90", true},
};

double history_get(const struct history_row *h, int col)
{
    switch (col) {
    case 0: return h->stage;
    case 1: return h->epoch;
    case 2: return h->lr;
    case 3: return h->train_loss;
    case 4: return h->train_acc;
    case 5: return h->test_loss;
    case 6: return h->test_acc;
    case 7: return h->seconds;
    case 8: return h->gamma_below_tau;
    default: return h->abs_gamma_q[col - 9];
    }
}

void history_set(struct history_row *h, int col, double v)
{
    switch (col) {
    case 0: h->stage = (int)v; break;
    case 1: h->epoch = (int)v; break;
    case 2: h->lr = v; break;
    case 3: h->train_loss = v; break;
    case 4: h->train_acc = v; break;
    case 5: h->test_loss = v; break;
    case 6: h->test_acc = v; break;
    case 7: h->seconds = v; break;
    case 8: h->gamma_below_tau = v; break;
    default: h->abs_gamma_q[col - 9] = v; break;
    }
}
