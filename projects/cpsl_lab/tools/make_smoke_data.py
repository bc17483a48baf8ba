"""Write the tiny shapes dataset used by the smoke config and the tool tests.

    python projects/cpsl_lab/tools/make_smoke_data.py --out data/smoke
"""
import argparse

from cpsl_lab.smoke_shapes import write_smoke_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default='data/smoke')
    parser.add_argument('--num-train', type=int, default=8)
    parser.add_argument('--num-val', type=int, default=4)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--domain', default='source', choices=['source', 'target'])
    args = parser.parse_args()
    write_smoke_dataset(args.out, args.num_train, args.num_val, args.size,
                        args.seed, args.domain)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
