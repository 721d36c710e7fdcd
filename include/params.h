/* pipeline params: the parameter counts of a network, as the paper's source table gives them
 * (total; BatchNorm γ and β, shortcut BNs included; the output layer; the shortcut 1×1 convs'
 * weights; each also as a share of the total).
 *
 *   pipeline params --arch imagenet_resnet --depth 50 --input 3x224x224 --classes 1000
 *   pipeline params --arch vgg --depth 16 --norm none --input 1x28x28 --classes 10
 *
 * In main():  if (strcmp(cmd, "params") == 0) return params_main(argc - 2, argv + 2);
 * Options: --arch, --depth (the family's first depth when left out), --width, --input CxHxW,
 * --classes, --stem (imagenet_resnet), --norm and --head (vgg). Exit 0, or 2 with a one-line
 * error on stderr. */
#ifndef REVIVE_PARAMS_H
#define REVIVE_PARAMS_H

int params_main(int argc, char **argv);

#endif
